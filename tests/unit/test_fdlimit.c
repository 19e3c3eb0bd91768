/* tests/unit/test_fdlimit.c — vigil's own resources, told apart from a node's faults. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "common/fdlimit.h"

START_TEST(local_errors_are_named)
{
	char buf[64];

	ck_assert(fd_errno_is_local(EMFILE));
	ck_assert(fd_errno_is_local(ENFILE));
	ck_assert(fd_errno_is_local(ENOMEM));
	ck_assert(fd_errno_is_local(ENOBUFS));
	ck_assert(fd_errno_is_local(EADDRNOTAVAIL));
	/* What a peer says is never vigil's own fault. */
	ck_assert(!fd_errno_is_local(ECONNREFUSED));
	ck_assert(!fd_errno_is_local(ETIMEDOUT));
	ck_assert(!fd_errno_is_local(EHOSTUNREACH));
	ck_assert(!fd_errno_is_local(ECONNRESET));
	ck_assert_str_eq(fd_errno_text(EMFILE, buf, sizeof(buf)), "Too many open files (EMFILE)");
	ck_assert_str_eq(fd_errno_text(ENOBUFS, buf, sizeof(buf)),
			 "No buffer space available (ENOBUFS)");
}
END_TEST

START_TEST(open_count_follows_open_and_close)
{
	size_t before = fd_open_count();
	int fd = dup(0);

	ck_assert_uint_ne(before, SIZE_MAX);
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_eq(fd_open_count(), before + 1);
	close(fd);
	ck_assert_uint_eq(fd_open_count(), before);
}
END_TEST

/* In a child: its limits are its own. */
START_TEST(ensure_raises_the_soft_limit_or_refuses)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit rl = { 64, 200 };
		size_t raised = 1;
		char err[256] = "";

		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(10);
		/* Enough already: nothing changes. */
		if (fd_limit_ensure(50, &raised, err, sizeof(err)) != 0 || raised != 0 ||
		    fd_limit_soft() != 64)
			_exit(11);
		/* More than the soft limit, within the hard one: raised to exactly that. */
		if (fd_limit_ensure(150, &raised, err, sizeof(err)) != 0 || raised != 150 ||
		    fd_limit_soft() != 150)
			_exit(12);
		/* Beyond the hard limit: refused, with the numbers and the way out. */
		if (fd_limit_ensure(500, &raised, err, sizeof(err)) != -1 || fd_limit_soft() != 150)
			_exit(13);
		if (!strstr(err, "needs 500 file descriptors") || !strstr(err, "hard limit") ||
		    !strstr(err, "200") || !strstr(err, "max_connections"))
			_exit(14);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("fdlimit");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, local_errors_are_named);
	tcase_add_test(tc, open_count_follows_open_and_close);
	tcase_add_test(tc, ensure_raises_the_soft_limit_or_refuses);
	suite_add_tcase(s, tc);
	return s;
}
