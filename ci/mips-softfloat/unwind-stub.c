/*
 * ci/mips-softfloat/unwind-stub.c: a do-nothing "libunwind.a" for the
 * soft-float MIPS musl build (see docs/mips-softfloat.md).
 *
 * Rust's std for musl links `-lunwind` and references the _Unwind_* API.
 * gcc's libgcc_eh.a from Debian's mips(el)-linux-gnu toolchain cannot be
 * used: it is compiled hard-float (its context save/restore executes
 * sdc1/ldc1 on $f20..$f30, SIGILL on an FPU-less 24Kc) and it references
 * glibc's _dl_find_object. mmkit is built with panic=abort, so nothing ever
 * unwinds; the only caller that runs is the backtrace printer, which gets
 * "end of stack" at once (backtraces are simply empty).
 *
 * Freestanding on purpose: no headers (the glibc ones of the cross gcc have
 * no soft-float variant).
 */
#define NULL ((void *)0)

typedef int _Unwind_Reason_Code;
typedef __UINTPTR_TYPE__ _Unwind_Word;
typedef __UINTPTR_TYPE__ _Unwind_Ptr;
struct _Unwind_Context;
struct _Unwind_Exception;
typedef _Unwind_Reason_Code (*_Unwind_Trace_Fn)(struct _Unwind_Context *, void *);

enum { URC_END_OF_STACK = 5 };

_Unwind_Reason_Code _Unwind_Backtrace(_Unwind_Trace_Fn fn, void *arg)
{
	(void)fn;
	(void)arg;
	return URC_END_OF_STACK;
}

_Unwind_Reason_Code _Unwind_RaiseException(struct _Unwind_Exception *e)
{
	(void)e;
	return URC_END_OF_STACK;
}

void _Unwind_Resume(struct _Unwind_Exception *e)
{
	(void)e;
	__builtin_trap();
}

void _Unwind_DeleteException(struct _Unwind_Exception *e)
{
	(void)e;
}

_Unwind_Word _Unwind_GetGR(struct _Unwind_Context *c, int i)
{
	(void)c;
	(void)i;
	return 0;
}

void _Unwind_SetGR(struct _Unwind_Context *c, int i, _Unwind_Word v)
{
	(void)c;
	(void)i;
	(void)v;
}

_Unwind_Word _Unwind_GetIP(struct _Unwind_Context *c)
{
	(void)c;
	return 0;
}

_Unwind_Word _Unwind_GetIPInfo(struct _Unwind_Context *c, int *before)
{
	(void)c;
	if (before)
		*before = 0;
	return 0;
}

void _Unwind_SetIP(struct _Unwind_Context *c, _Unwind_Word v)
{
	(void)c;
	(void)v;
}

_Unwind_Word _Unwind_GetCFA(struct _Unwind_Context *c)
{
	(void)c;
	return 0;
}

void *_Unwind_GetLanguageSpecificData(struct _Unwind_Context *c)
{
	(void)c;
	return NULL;
}

_Unwind_Ptr _Unwind_GetRegionStart(struct _Unwind_Context *c)
{
	(void)c;
	return 0;
}

_Unwind_Ptr _Unwind_GetTextRelBase(struct _Unwind_Context *c)
{
	(void)c;
	return 0;
}

_Unwind_Ptr _Unwind_GetDataRelBase(struct _Unwind_Context *c)
{
	(void)c;
	return 0;
}

void *_Unwind_FindEnclosingFunction(void *pc)
{
	(void)pc;
	return NULL;
}
