/*
 * proc.h - starting and reaping the real programs of the build from the
 * integration tests (test_agent.c, test_agent_k8s.c).
 */
#ifndef TEST_PROC_H
#define TEST_PROC_H

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Start prog with args (NULL-terminated, without argv[0]); its stdout and
 * stderr are appended to `out`.  The child is killed if the test dies.
 * The pid, or -1 when fork() failed.
 */
static inline pid_t
proc_spawn(const char *prog, const char *out, const char *const *args)
{
	const char *argv[40];
	size_t n = 0;
	pid_t pid;

	argv[n++] = prog;
	while (*args != NULL && n < 39)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		/* Not the test runner's pipes and shared memory. */
		closefrom(3);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Wait for pid at most timeout_ms; its exit status (128 + signal when a
 * signal ended it), or -1 after killing it at the timeout. */
static inline int
proc_reap(pid_t pid, int timeout_ms)
{
	int st, waited = 0;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) :
			    128 + WTERMSIG(st);
		if (waited >= timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(10000);
		waited += 10;
	}
}

#endif
