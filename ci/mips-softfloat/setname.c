/*
 * ci/mips-softfloat/setname.c: pthread_setname_np for the static musl builds
 * (the soft-float MIPS one, see docs/mips-softfloat.md, and ci/musl-build.sh's),
 * linked before libc.a so that musl's own is not.
 *
 * Why: musl's pthread_setname_np builds "/proc/self/task/<tid>/comm" with
 * snprintf, and that one call linked the whole printf engine into mmkit
 * (vfprintf with its double formatting and the soft-float routines it needs:
 * ~13 KB), which nothing else uses. Rust's std calls pthread_setname_np
 * only from a new thread on itself (a named std::thread::Builder), which
 * this does with prctl(PR_SET_NAME) as musl does; naming another thread is
 * refused with ENOTSUP (nothing in mmkit does it).
 *
 * Compiled against the musl sysroot's headers only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>

int pthread_setname_np(pthread_t thread, const char *name)
{
	if (strnlen(name, 16) > 15)
		return ERANGE;
	if (!pthread_equal(thread, pthread_self()))
		return ENOTSUP;
	return prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL) ? errno : 0;
}
