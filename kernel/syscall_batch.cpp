// The batch system call: up to abi::kBatchMax calls from a page the caller
// names by a frame capability, run in order in one kernel entry through the
// very decoders single calls use (syscall_cap/vm/thread.cpp); the calls it
// may hold are the kBatchable rows of the system-call table (syscall.cpp). The batch
// stops at the first entry that fails; that entry changed nothing (every
// decoder checks before it performs), so the caller knows exactly what
// happened: the count of successes, and each one's result in its entry.
//
// The page is reached through the kernel's identity map, never through the
// caller's mapping. It must be ordinary memory the caller may read and
// write: a Frame capability with Read and Write, not donated (a kernel
// object, page table or kernel stack), not split (its halves may be
// donated), without copies (a copy could be donated or mapped elsewhere),
// and if mapped then only in the caller's own address space. An entry may
// change that capability (delete it, retype it, donate it as a table): the
// frame is checked again after every entry, and the batch ends as soon as
// it fails the check, before the kernel writes anything more to the page.
#include "cap.h"
#include "syscalls.h"
#include "thread.h"

namespace capframe {
namespace {

// Is `c` (still) a frame whose first page the kernel may read and write on
// t's behalf? Permission, Busy, or BadType.
Result<void> check_batch_frame(const Thread& t, const Cap* c) {
    if (c->type != ObjType::Frame) return Error::BadType;
    if (!c->has(abi::kRightRead | abi::kRightWrite)) return Error::Permission;
    if (c->flags & (abi::kCapDonated | abi::kCapSplit)) return Error::Busy;
    if (has_children(c)) return Error::Busy;
    if ((c->flags & abi::kCapMapped) && c->map_root != t.as->root) return Error::Busy;
    return {};
}

} // namespace

Result<int64_t> sys_batch(Thread& t, SyscallArgs a) {
    return run_batch(t, a[0], a[1]);
}

Result<int64_t> run_batch(Thread& t, uint64_t slot, uint64_t count) {
    Cap* frame = TRY(lookup(t, slot, ObjType::Frame));
    TRY(check_batch_frame(t, frame));
    if (count > abi::kBatchMax) return Error::InvalidArgument;
    const uint64_t pa = frame->object;
    auto* page = reinterpret_cast<volatile abi::BatchEntry*>(pa);
    uint64_t done = 0;
    t.tf.regs[arch::a1] = 0;
    for (uint64_t i = 0; i < count; ++i) {
        // Read once: nothing the page holds is trusted or read again.
        volatile abi::BatchEntry& e = page[i];
        uint64_t number = e.number;
        uint64_t args[6] = {e.args[0], e.args[1], e.args[2], e.args[3], e.args[4], e.args[5]};
        BatchCall call = batch_call(number); // kBatchable in syscall.cpp
        t.tf.regs[arch::a1] = 0;             // the second value of this entry, if it sets one
        Result<int64_t> r =
            call.handler ? call.handler(t, args) : Result<int64_t>(Error::NoSystemCall);
        // The entry may have deleted, donated or retyped the page's frame:
        // write nothing more unless the slot still holds that same frame,
        // fit for a batch. An entry that changes only the capability its
        // first argument names cannot have, unless it names this one (a
        // slot has one number: leaves attach at one index only).
        if (!call.only_first || args[0] == slot) {
            Cap* again = t.table.slot(slot);
            if (!again || again->empty() || again->type != ObjType::Frame || again->object != pa ||
                !check_batch_frame(t, again).ok())
                return static_cast<int64_t>(done + (r.ok() ? 1 : 0));
            frame = again;
        }
        // The result makes the page non-zero (an entry may have zeroed it:
        // FrameZero of this very frame).
        frame->zeroed = 0;
        page[i].result = r.ok() ? r.value() : syscall_errno(r.error());
        if (!r.ok()) break;
        ++done;
    }
    return static_cast<int64_t>(done);
}

bool batch_before_reply(Thread& t) {
    // The message (a1..a4) stays as it is: entries write their second value
    // to a1.
    uint64_t msg[4];
    for (int i = 0; i < 4; ++i)
        msg[i] = t.tf.regs[arch::a1 + i];
    const uint64_t packed = t.tf.regs[arch::a5] & ~abi::kBatchRecvOnly;
    const uint64_t count = packed >> 32;
    Result<int64_t> r = run_batch(t, packed & 0xffffffff, count);
    if (r.ok() && static_cast<uint64_t>(r.value()) == count) {
        for (int i = 0; i < 4; ++i)
            t.tf.regs[arch::a1 + i] = msg[i];
        return true;
    }
    // Stopped whatever the reason (an entry failed, or the batch itself was
    // refused): ReplyRecv never returns it, so the caller knows nothing
    // was replied or received.
    t.tf.regs[arch::a0] = static_cast<uint64_t>(abi::error_return(abi::Errno::Stopped));
    t.tf.regs[arch::a1] = r.ok() ? static_cast<uint64_t>(r.value()) : 0;
    return false;
}

} // namespace capframe
