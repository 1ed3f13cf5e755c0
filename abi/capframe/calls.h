// The kernel calls that take their arguments as they are, with their
// argument counts: one list for libsys (which defines its wrappers and its
// batch-entry decoder from it, libsys/include/capframe/syscalls.h) and for
// the kernel (whose system-call table asserts that every batchable row here
// is batchable there, and that no other is but the four libsys decodes by
// hand: kernel/syscall.cpp).
#pragma once

// The calls whose libsys function hands its arguments straight to the
// system call of that number (sys::syscall(Sys::N, a0, ...)): one row
// X(function, abi::Sys name, argument count) each, the batchable ones (the
// kernel's kBatchable rows) first. libsys/src/sys.cpp defines the functions
// from these rows and syscalls.h's call_entry dispatches the batchable ones;
// syscalls.h's declarations keep their parameter names (a row whose count
// disagrees with its declaration does not compile: sys.cpp checks the type).
#define CAPFRAME_PASS_THROUGH_BATCHABLE(X)                                                         \
    X(cap_copy, CapCopy, 5)                                                                        \
    X(cap_delete, CapDelete, 1)                                                                    \
    X(cap_revoke, CapRevoke, 1)                                                                    \
    X(frame_split, FrameSplit, 3)                                                                  \
    X(cap_attach, CapAttach, 3)                                                                    \
    X(cap_detach, CapDetach, 2)                                                                    \
    X(frame_merge, FrameMerge, 2)                                                                  \
    X(cap_move, CapMove, 2)                                                                        \
    X(unmap, Unmap, 1)                                                                             \
    X(protect, Protect, 2)                                                                         \
    X(protect_range, ProtectRange, 3)                                                              \
    X(frame_zero, FrameZero, 1)                                                                    \
    X(map_table, MapTable, 3)                                                                      \
    X(unmap_table, UnmapTable, 1)                                                                  \
    X(thread_configure, ThreadConfigure, 4)                                                        \
    X(thread_set_stack, ThreadSetStack, 2)                                                         \
    X(thread_write_regs, ThreadWriteRegs, 5)                                                       \
    X(thread_start, ThreadStart, 1)                                                                \
    X(thread_copy_regs, ThreadCopyRegs, 4)
#define CAPFRAME_PASS_THROUGH_CALLS(X)                                                             \
    CAPFRAME_PASS_THROUGH_BATCHABLE(X)                                                             \
    X(vmprint_cap, VmPrint, 1)                                                                     \
    X(thread_suspend, ThreadSuspend, 1)
