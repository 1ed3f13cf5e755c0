// In-QEMU test: revoking a frame capability removes the mappings made with
// it. mm maps a page for us through a copy of its frame capability, we use
// the page, mm revokes the frame, and the next access faults: mm kills us
// with a message (the test runner checks it) and gets every frame back.
#include "capframe/sys.h"

using capframe::mmp::Request;

int main() {
    constexpr uint64_t va = 0x40000000;
    int64_t r = sys::mm_request(Request::MapPage, va, 1);
    sys::printf("%s - mm maps a fresh page at 0x%lx\n", r == 0 ? "ok" : "not ok", va);
    auto* p = reinterpret_cast<volatile uint64_t*>(va);
    bool zero = true;
    for (int i = 0; i < 512; ++i)
        zero = zero && p[i] == 0;
    sys::printf("%s - the fresh page reads zero\n", zero ? "ok" : "not ok");
    p[0] = 0x1234;
    sys::printf("%s - the page is writable\n", p[0] == 0x1234 ? "ok" : "not ok");
    sys::Msg m;
    r = sys::mm_request(Request::RevokePage, va, 0, 0, &m);
    sys::printf("%s - mm revokes the frame (%lu capabilities deleted)\n",
                r == 0 && m.w[1] >= 1 ? "ok" : "not ok", m.w[1]);
    sys::printf("revoketest: reading 0x%lx after the revoke must fault\n", va);
    uint64_t v = p[0];
    sys::printf("not ok - the page is still mapped after the revoke (read 0x%lx)\n", v);
    return 1;
}
