// In-QEMU test: what an ordinary task (no frame capabilities, a send-only
// endpoint to mm in slot 1) can and cannot do with capabilities. Every bad
// call must return its error and change nothing. TAP output; the exit status
// is the number of failures.
#include "capframe/sys.h"
#define TAP_PRINTF sys::printf
#include "tap.h"

using capframe::abi::Errno;
using capframe::abi::ObjType;
using capframe::abi::Sys;
namespace abi = capframe::abi;

namespace {

void check(bool ok, const char* what) {
    tap_check(ok, what);
}

int64_t err(Errno e) {
    return abi::error_return(e);
}

uint64_t free_frames() {
    sys::Msg m;
    sys::mm_request(capframe::mmp::Request::FreeFrames, 0, 0, 0, &m);
    return m.w[1];
}

} // namespace

int main() {
    uint64_t free_before = free_frames();
    const uint64_t ep = abi::kSlotMmEndpoint;

    check(sys::cap_info(0) == err(Errno::Range), "slot 0 is never a capability");
    check(sys::cap_info(64) == err(Errno::Range), "a slot past the table is out of range");
    check(sys::cap_info(uint64_t{1} << 40) == err(Errno::Range),
          "a huge slot number is out of range");
    check(sys::cap_info(5) == err(Errno::BadSlot), "an empty slot is reported as empty");
    int64_t info = sys::cap_info(ep);
    check(info >= 0 && (info & 0xff) == int64_t(ObjType::Endpoint) &&
              ((info >> 8) & 0xff) == abi::kRightWrite,
          "slot 1 holds mm's endpoint, send-only");

    bool none = true;
    for (uint64_t s = 2; s < 64; ++s)
        none = none && sys::cap_info(s) == err(Errno::BadSlot);
    check(none, "no frame capabilities: the task can name no physical memory");

    check(sys::map(ep, ep, 0x40000000, abi::kRightRead) == err(Errno::BadType),
          "map with an endpoint as the frame is a type error");
    check(sys::map(7, ep, 0x40000000, abi::kRightRead) == err(Errno::BadSlot),
          "map with an empty frame slot is refused");
    check(sys::retype(ep, ObjType::Thread, 2) == err(Errno::BadType),
          "retype of a non-frame is a type error");
    check(sys::frame_split(ep, 2, 3) == err(Errno::BadType),
          "split of a non-frame is a type error");
    check(sys::thread_start(ep) == err(Errno::BadType), "thread_start on an endpoint is refused");
    check(sys::vmprint_cap(ep) == err(Errno::BadType), "vmprint needs an address space or Control");
    check(sys::syscall(Sys::Shutdown, ep, 0) == err(Errno::BadType),
          "shutdown needs the Control capability");
    check(sys::syscall(Sys::LockStats, 2) == err(Errno::Inval),
          "lock statistics: a reset flag other than 0 or 1 is refused");
    {
        uint64_t before = 0, after = 0;
        (void)sys::lock_stats(true, &before);
        int64_t longest = sys::lock_stats(false, &after);
        // The reset call's own hold is recorded as it lets the lock go.
        check(longest > 0 && after > before,
              "lock statistics: after a reset the longest hold is the calls' own, and the "
              "acquisition count grows");
    }
    check(sys::syscall(Sys::Shutdown, 4, 0) == err(Errno::BadSlot),
          "shutdown through an empty slot is refused");
    sys::Msg m;
    check(sys::recv(ep, m) == err(Errno::Perm), "receive on a send-only endpoint: missing rights");
    check(sys::reply(m) == err(Errno::NoCaller), "reply with nobody to reply to");

    check(sys::cap_copy(ep, 0, ep, abi::kRightsAll, 0) == err(Errno::Exist),
          "copy into an occupied slot is refused");
    check(sys::cap_copy(ep, 999, 2, abi::kRightsAll, 0) == err(Errno::Range),
          "copy into a table slot out of range is refused");
    check(sys::cap_copy(ep, 0, 2, abi::kRightsAll, 0) == 0, "copy of the endpoint cap");
    check(((sys::cap_info(2) >> 8) & 0xff) == abi::kRightWrite,
          "a copy asking for all rights gets no more than the original");
    check(sys::cap_copy(2, 0, 3, abi::kRightsAll, 7) == err(Errno::Inval),
          "re-badging a badged endpoint is refused");
    check(sys::cap_delete(2) == 0, "delete the copy");
    check(sys::cap_info(2) == err(Errno::BadSlot), "the deleted slot is empty");
    m = sys::Msg{};
    m.w[0] = uint64_t(capframe::mmp::Request::Getpid);
    check(sys::call(2, m) == err(Errno::BadSlot), "IPC through a deleted endpoint cap is refused");
    check(sys::cap_delete(2) == err(Errno::BadSlot), "deleting it twice is refused");
    check(sys::syscall(1234) == err(Errno::NoSys), "an unknown syscall returns ENOSYS");
    check(sys::syscall(Sys::DebugKstackOverflow) == err(Errno::NoSys),
          "the kernel-stack test call does not exist in a normal kernel");

    // The two-level space's calls (mm's self-test covers them with a
    // directory): a task's table is flat, and it holds no frames.
    check(sys::cap_attach(0, 7, 1) == err(Errno::BadSlot), "attach of an empty slot is refused");
    check(sys::cap_attach(0, 64, 1) == err(Errno::Range), "attach of a slot past the table");
    check(sys::cap_attach(ep, ep, 1) == err(Errno::BadType),
          "attach into an endpoint (not a table) is a type error");
    check(sys::cap_attach(9, ep, 1) == err(Errno::BadSlot), "attach into an empty table slot");
    check(sys::cap_attach(0, ep, 1) == err(Errno::Inval),
          "a flat table has no directory to attach to");
    check(sys::cap_detach(0, 1) == err(Errno::Inval) && sys::cap_detach(0, 0) == err(Errno::Inval),
          "nor one to detach from");
    check(sys::frame_merge(ep, ep) == err(Errno::BadType), "merge of an endpoint is a type error");
    check(sys::frame_merge(7, 8) == err(Errno::BadSlot), "merge of empty slots is refused");
    check(sys::frame_split(ep, ep, 3) == err(Errno::BadType), "an in-place split needs a frame");
    check(sys::cap_move(ep, 9) == err(Errno::BadType), "only a frame moves (an endpoint does not)");
    check(sys::cap_move(7, 8) == err(Errno::BadSlot) && sys::cap_move(ep, ep) == err(Errno::Exist),
          "a move of an empty slot, or onto a full one, is refused");
    check(sys::cap_info(ep) == info, "the endpoint capability is unchanged");
    // Batches (the frame checks that need real frames are in mm's self-test).
    check(sys::batch(0, 1) == err(Errno::Range), "a batch in slot 0 is refused");
    check(sys::batch(9, 1) == err(Errno::BadSlot), "a batch in an empty slot is refused");
    check(sys::batch(ep, 1) == err(Errno::BadType), "a batch needs a frame, not an endpoint");
    check(sys::batch(uint64_t{1} << 40, 1) == err(Errno::Range),
          "a batch in a huge slot number is out of range");

    check(sys::getpid() == 1, "mm still answers: getpid is 1");
    check(free_frames() == free_before, "the free-frame count is where it started");
    (void)tap_done("captest");
    return tap_failures();
}
