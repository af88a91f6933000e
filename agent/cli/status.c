/*
 * status.c - `hotcfg status`: what the agent last reported, and whether it
 * is healthy, for people (text) and for programs and probes (json).
 *
 * Healthy means: the agent is alive and its last reload did not fail.
 * Alive means its heartbeat is at most 10 seconds old (--stale changes
 * that).  hotcfgd beats once a second by default, so ten seconds leaves
 * room for a loaded machine without hiding a dead agent for long; an agent
 * configured with a slower heartbeat needs a larger --stale.  The
 * heartbeat, not the pid, is the test, because the agent often runs in
 * another container: its pid means nothing in our pid namespace.  The pid
 * is still checked with kill(pid, 0) and shown, as a clue for whoever
 * reads the text.
 *
 * Exit status: 0 healthy, 1 not (or no configuration there), 2 trouble.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

#define STALE_S 10.0

static const char *
outcome_name(int outcome)
{
	switch (outcome) {
	case HOTCFG_OUTCOME_OK:
		return "ok";
	case HOTCFG_OUTCOME_UNCHANGED:
		return "unchanged";
	case HOTCFG_OUTCOME_ERROR:
		return "error";
	}
	return "none";
}

/* Seconds between then and now, for "(3.2 s ago)". */
static double
age_s(int64_t now, int64_t then)
{
	return then > 0 ? (double)(now - then) / 1e9 : -1;
}

/* What kill(pid, 0) says: "running", "no such process here" or "". */
static const char *
pid_state(int pid)
{
	if (pid <= 0)
		return "";
	if (kill(pid, 0) == 0 || errno == EPERM)
		return "running";
	return "no such process here";
}

/* A JSON string from text the agent wrote, which a cut may have left
 * with half a UTF-8 character at its end: bad bytes become '?'. */
static json_t *
jstr(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j != NULL || s == NULL)
		return j;
	if ((copy = strdup(s)) == NULL)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static json_t *
jtime(int64_t ns)
{
	char buf[64];

	if (ns <= 0)
		return json_null();
	cli_format_time(ns, buf, sizeof(buf));
	return json_string(buf);
}

static int
print_json(const char *dir, const hotcfg_status *st, int64_t now,
    bool alive, bool healthy)
{
	json_t *root, *agent, *last, *srcs;
	int rc;

	root = json_object();
	agent = json_object();
	last = json_object();
	srcs = json_array();
	if (root == NULL || agent == NULL || last == NULL || srcs == NULL)
		goto nomem;
	json_object_set_new(root, "directory", jstr(dir));
	json_object_set_new(root, "healthy", json_boolean(healthy));
	json_object_set_new(root, "generation",
	    json_integer((json_int_t)st->generation));
	json_object_set_new(root, "published", jtime(st->published_ns));
	json_object_set_new(root, "entries",
	    json_integer((json_int_t)st->entries));
	json_object_set_new(root, "bytes",
	    json_integer((json_int_t)st->bytes));

	json_object_set_new(agent, "pid", json_integer(st->pid));
	json_object_set_new(agent, "alive", json_boolean(alive));
	json_object_set_new(agent, "started", jtime(st->started_ns));
	json_object_set_new(agent, "heartbeat", jtime(st->heartbeat_ns));
	json_object_set_new(agent, "heartbeat_age", st->heartbeat_ns > 0 ?
	    json_real(age_s(now, st->heartbeat_ns)) : json_null());
	json_object_set_new(root, "agent", agent);
	agent = NULL;

	json_object_set_new(last, "outcome",
	    json_string(outcome_name(st->outcome)));
	json_object_set_new(last, "time", jtime(st->outcome_ns));
	if (st->outcome == HOTCFG_OUTCOME_ERROR) {
		json_object_set_new(last, "source", jstr(st->source));
		json_object_set_new(last, "line", json_integer(st->line));
		json_object_set_new(last, "column", json_integer(st->column));
		json_object_set_new(last, "message", jstr(st->message));
	}
	json_object_set_new(root, "last", last);
	last = NULL;

	for (unsigned i = 0; i < st->nsources && i < HOTCFG_STATUS_MAXSRC;
	    i++) {
		json_t *o = json_object();
		if (o == NULL)
			goto nomem;
		json_object_set_new(o, "name", jstr(st->sources[i].name));
		json_object_set_new(o, "state", jstr(st->sources[i].state));
		json_object_set_new(o, "detail", jstr(st->sources[i].detail));
		json_array_append_new(srcs, o);
	}
	json_object_set_new(root, "sources", srcs);
	srcs = NULL;

	rc = json_dumpf(root, stdout, JSON_INDENT(2) |
	    JSON_REAL_PRECISION(4));
	putchar('\n');
	json_decref(root);
	return rc == 0 ? EXIT_OK : EXIT_TROUBLE;
nomem:
	json_decref(root);
	json_decref(agent);
	json_decref(last);
	json_decref(srcs);
	cli_err("out of memory");
	return EXIT_TROUBLE;
}

static void
print_text(const char *dir, const hotcfg_status *st, int64_t now,
    bool alive, bool healthy)
{
	char t[64];

	printf("directory:   %s\n", dir);
	printf("generation:  %llu\n", (unsigned long long)st->generation);
	cli_format_time(st->published_ns, t, sizeof(t));
	if (st->generation == 0 || st->published_ns <= 0)
		printf("published:   never\n");
	else
		printf("published:   %s (%.1f s ago)\n", t,
		    age_s(now, st->published_ns));
	printf("entries:     %llu\n", (unsigned long long)st->entries);
	printf("bytes:       %llu\n", (unsigned long long)st->bytes);
	if (st->pid <= 0) {
		printf("agent:       %s\n", st->started_ns > 0 ?
		    "stopped" : "never started");
	} else {
		const char *ps = pid_state(st->pid);
		printf("agent:       pid %d (%s), %s", st->pid, ps,
		    alive ? "alive" : "not alive");
		if (st->heartbeat_ns > 0)
			printf(", heartbeat %.1f s ago",
			    age_s(now, st->heartbeat_ns));
		putchar('\n');
		cli_format_time(st->started_ns, t, sizeof(t));
		printf("started:     %s\n", t);
	}
	cli_format_time(st->outcome_ns, t, sizeof(t));
	printf("last reload: %s", outcome_name(st->outcome));
	if (st->outcome != HOTCFG_OUTCOME_NONE)
		printf(" at %s", t);
	if (st->outcome == HOTCFG_OUTCOME_ERROR) {
		printf(": %s", st->source[0] ? st->source : "(no source)");
		if (st->line)
			printf(":%u", st->line);
		if (st->column)
			printf(":%u", st->column);
		printf(": %s", st->message);
	}
	putchar('\n');
	for (unsigned i = 0; i < st->nsources && i < HOTCFG_STATUS_MAXSRC;
	    i++) {
		printf("source:      %s: %s", st->sources[i].name,
		    st->sources[i].state);
		if (st->sources[i].detail[0])
			printf(" (%s)", st->sources[i].detail);
		putchar('\n');
	}
	if (healthy)
		printf("health:      ok\n");
	else
		printf("health:      unhealthy (%s%s%s)\n",
		    alive ? "" : "the agent is not alive",
		    !alive && st->outcome == HOTCFG_OUTCOME_ERROR ? "; " : "",
		    st->outcome == HOTCFG_OUTCOME_ERROR ?
		    "the last reload failed" : "");
}

int
cmd_status(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "stale", required_argument, NULL, 's' },
		CLI_COMMON_OPTS
	};
	double stale = STALE_S;
	hotcfg_status st;
	hotcfg *h = NULL;
	bool json = false, alive, healthy;
	int opt, code = EXIT_TROUBLE, rc;
	int64_t now;

	while ((opt = cli_getopt(c, "status", argc, argv, lo, &code)) != -1) {
		if (opt == -2)
			return code;
		if (opt == 's') {
			if (cli_parse_seconds(optarg, &stale) != 0)
				return cli_usage_error("status",
				    "--stale takes seconds, not '%s'", optarg);
			continue;
		}
		if (strcmp(optarg, "json") == 0)
			json = true;
		else if (strcmp(optarg, "text") == 0)
			json = false;
		else
			return cli_usage_error("status", "unknown format '%s':"
			    " use text or json", optarg);
	}
	if (optind != argc)
		return cli_usage_error("status", "unexpected argument '%s'",
		    argv[optind]);

	if ((code = cli_open(c, &h, false, -1)) != 0)
		return code;    /* no configuration: unhealthy, exit 1 */
	if ((rc = hotcfg_status_read(h, &st)) != 0) {
		code = cli_fail(c, rc, "cannot read the status in");
		goto out;
	}
	now = hc_now_ns();
	alive = st.pid > 0 && st.heartbeat_ns > 0 &&
	    now - st.heartbeat_ns <= (int64_t)(stale * 1e9);
	healthy = alive && st.outcome != HOTCFG_OUTCOME_ERROR;
	if (json) {
		code = print_json(hotcfg_dir(h), &st, now, alive, healthy);
	} else {
		print_text(hotcfg_dir(h), &st, now, alive, healthy);
		code = EXIT_OK;
	}
	if (code == EXIT_OK)
		code = cli_flush();
	if (code == EXIT_OK && !healthy)
		code = EXIT_NOTFOUND;
out:
	hotcfg_close(h);
	return code;
}
