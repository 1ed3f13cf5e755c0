// In-QEMU test: revoking a frame capability removes the mappings made with
// it. mm maps a page for us through a copy of its frame capability, we use
// the page, mm revokes the frame, and the next access faults: mm kills us
// with a message (the test runner checks it) and gets every frame back.
// First, a page shared with another process (fork shares text) cannot be
// revoked: that would take it from the other process too.
#include "capframe/sys.h"
#define TAP_PRINTF sys::printf
#include "tap.h"

using capframe::abi::Errno;
using capframe::mmp::Request;

int main() {
    uint64_t text = reinterpret_cast<uint64_t>(&main) & ~uint64_t{4095};
    int64_t child = sys::mm_request(Request::Fork);
    if (child == 0) {
        int64_t e = sys::mm_request(Request::RevokePage, text);
        sys::exit(e == -static_cast<int64_t>(Errno::Perm) ? 0 : 1);
    }
    int status = -2;
    int64_t w = sys::mm_request(Request::Wait, reinterpret_cast<uint64_t>(&status));
    tap_result(child > 0 && w == child && status == 0,
               "a child cannot revoke the text page it shares with its parent", "it could");

    constexpr uint64_t va = 0x40000000;
    int64_t r = sys::mm_request(Request::MapPage, va, 1);
    tap_check(r == 0, "mm maps a fresh page at 0x40000000");
    auto* p = reinterpret_cast<volatile uint64_t*>(va);
    bool zero = true;
    for (int i = 0; i < 512; ++i)
        zero = zero && p[i] == 0;
    tap_check(zero, "the fresh page reads zero");
    p[0] = 0x1234;
    tap_check(p[0] == 0x1234, "the page is writable");
    sys::Msg m;
    r = sys::mm_request(Request::RevokePage, va, 0, 0, &m);
    tap_check(r == 0 && m.w[1] >= 1, "mm revokes the frame (capabilities deleted)");
    sys::printf("revoketest: reading 0x%lx after the revoke must fault\n", va);
    uint64_t v = p[0];
    tap_result(false, "the page is unmapped after the revoke", v == 0x1234 ? "still mapped" : "?");
    return tap_done("revoketest");
}
