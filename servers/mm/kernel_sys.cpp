// What kernel.h adds to libsys's kernel calls, on the real kernel.
#include <stdarg.h>

#include "capframe/sys.h"
#include "format.h"
#include "kernel.h"

namespace capframe::mm::kernel {

namespace abi = capframe::abi;

void shutdown(int status) {
    sys::shutdown(abi::kSlotControl, status);
}

void write(const char* s, size_t n) {
    (void)sys::write(1, s, n);
}

void log(const char* fmt, ...) {
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    struct Buf {
        char* p;
        size_t n, cap;
    } b{line, 0, sizeof line};
    auto put = [](void* ctx, const char* s, size_t n) {
        auto* buf = static_cast<Buf*>(ctx);
        for (size_t i = 0; i < n; ++i) {
            if (buf->n == buf->cap) {
                write(buf->p, buf->n);
                buf->n = 0;
            }
            buf->p[buf->n++] = s[i];
        }
    };
    capframe::vformat(capframe::Sink{put, &b}, fmt, ap);
    va_end(ap);
    if (b.n) write(line, b.n);
}

const abi::BootInfo& boot_info() {
    return *reinterpret_cast<const abi::BootInfo*>(abi::kBootInfoVa);
}
std::span<const uint8_t> boot_archive() {
    return {reinterpret_cast<const uint8_t*>(abi::kBootImageVa), boot_info().image_bytes};
}
void* view(uint64_t va) {
    return reinterpret_cast<void*>(va);
}

} // namespace capframe::mm::kernel
