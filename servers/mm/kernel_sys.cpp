// mm's kernel interface (kernel.h) on the real kernel: one system call each.
#include <stdarg.h>

#include "capframe/sys.h"
#include "format.h"
#include "kernel.h"

namespace capframe::mm::kernel {

namespace abi = capframe::abi;

int64_t cap_info(uint64_t slot, uint64_t* pa) {
    return sys::cap_info(slot, pa);
}
int64_t cap_copy(uint64_t src, uint64_t dst_table, uint64_t dst, uint64_t rights, uint64_t badge) {
    return sys::cap_copy(src, dst_table, dst, rights, badge);
}
int64_t cap_delete(uint64_t slot) {
    return sys::cap_delete(slot);
}
int64_t cap_revoke(uint64_t slot) {
    return sys::cap_revoke(slot);
}
int64_t frame_split(uint64_t slot, uint64_t lo, uint64_t hi) {
    return sys::frame_split(slot, lo, hi);
}
int64_t retype(uint64_t frame, abi::ObjType type, uint64_t dst) {
    return sys::retype(frame, type, dst);
}
int64_t cap_attach(uint64_t table, uint64_t leaf, uint64_t index) {
    return sys::cap_attach(table, leaf, index);
}
int64_t cap_detach(uint64_t table, uint64_t index) {
    return sys::cap_detach(table, index);
}
int64_t frame_merge(uint64_t lo, uint64_t hi) {
    return sys::frame_merge(lo, hi);
}
int64_t cap_move(uint64_t src, uint64_t dst) {
    return sys::cap_move(src, dst);
}
int64_t map(uint64_t frame, uint64_t as, uint64_t va, uint64_t rights, int* need_level) {
    return sys::map(frame, as, va, rights, need_level);
}
int64_t batch(uint64_t frame, uint64_t count, uint64_t* second) {
    return sys::batch(frame, count, second);
}
int64_t unmap(uint64_t frame) {
    return sys::unmap(frame);
}
int64_t protect(uint64_t frame, uint64_t rights) {
    return sys::protect(frame, rights);
}
int64_t protect_range(uint64_t as, uint64_t va, uint64_t end) {
    return sys::protect_range(as, va, end);
}
int64_t map_table(uint64_t frame, uint64_t as, uint64_t va) {
    return sys::map_table(frame, as, va);
}
int64_t unmap_table(uint64_t frame) {
    return sys::unmap_table(frame);
}
int64_t vmprint(uint64_t as) {
    return sys::vmprint_cap(as);
}
int64_t thread_configure(uint64_t thread, uint64_t as, uint64_t table, uint64_t fault_ep) {
    return sys::thread_configure(thread, as, table, fault_ep);
}
int64_t thread_set_stack(uint64_t thread, uint64_t frame) {
    return sys::thread_set_stack(thread, frame);
}
int64_t thread_write_regs(uint64_t thread, uint64_t pc, uint64_t sp, uint64_t a0, uint64_t a1) {
    return sys::thread_write_regs(thread, pc, sp, a0, a1);
}
int64_t thread_start(uint64_t thread) {
    return sys::thread_start(thread);
}
int64_t thread_suspend(uint64_t thread) {
    return sys::thread_suspend(thread);
}
int64_t thread_reply(uint64_t thread, const Msg& m) {
    return sys::thread_reply(thread, m);
}
int64_t thread_copy_regs(uint64_t dst, uint64_t src, uint64_t a0, uint64_t a1) {
    return sys::thread_copy_regs(dst, src, a0, a1);
}

int64_t recv(uint64_t ep, Msg& m) {
    return sys::recv(ep, m);
}
int64_t reply_recv(uint64_t ep, Msg& m) {
    return sys::reply_recv(ep, m);
}
void yield() {
    sys::yield();
}
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
