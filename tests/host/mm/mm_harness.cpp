#include "mm_harness.h"

#include <cstdio>
#include <cstring>

namespace mmh {

using namespace capframe;

uint64_t g_slots_at_start = 0;

uint64_t slots_at_start() {
    return g_slots_at_start;
}

bool boot(uint64_t frames, uint64_t slots) {
    fakek::fake().reset(frames, slots,
                        fakek::make_archive({{"init", fakek::make_program()},
                                             {"prog", fakek::make_program(0x900, 0x40, 0x100)},
                                             {"big", fakek::make_program(0x3000, 0x5000, 0x40000)},
                                             {"bad", fakek::Bytes(100, 7)}}));
    if (!mm::start().ok()) return false;
    g_slots_at_start = mm::g_slots.used();
    static mm::Args args;
    if (!mm::init_args("", "init", args)) return false;
    return mm::spawn_init("init", args).ok();
}

void answer_as_serve_does(bool reply, const Msg& out) {
    // The calls riding the answer go as in serve(): BatchReplyRecv (the
    // fake's: the batch, then no message to receive).
    Msg m = out;
    if (reply)
        (void)mm::g_batch.reply_recv(0, m);
    else
        (void)mm::g_batch.recv(0, m);
}

Answer request(int pid, mmp::Request req, uint64_t a1, uint64_t a2, uint64_t a3) {
    Msg m;
    m.w[0] = static_cast<uint64_t>(req), m.w[1] = a1, m.w[2] = a2, m.w[3] = a3;
    m.badge = static_cast<uint64_t>(pid);
    Answer a;
    auto& replies = fakek::fake().replies;
    size_t seen = replies.size();
    mm::Proc* p = proc(pid);
    uint64_t thread = p ? p->thread_obj : 0;
    a.replied = mm::handle_message(0, m, a.out);
    answer_as_serve_does(a.replied, a.out);
    // A deferred answer (wait) comes as a reply to the caller's thread.
    for (size_t i = seen; !a.replied && i < replies.size(); ++i)
        if (replies[i].first == thread) {
            a.replied = true;
            a.out = replies[i].second;
        }
    return a;
}

bool fault(int pid, uint64_t va, uint64_t scause) {
    Msg m;
    m.w[0] = abi::kFaultLabel, m.w[1] = scause, m.w[2] = va, m.w[3] = 0x10000;
    m.badge = mm::kFaultBit | static_cast<uint64_t>(pid);
    Msg out;
    bool replied = mm::handle_message(0, m, out);
    answer_as_serve_does(replied, out);
    return replied && out.w[0] == 0;
}

mm::Proc* proc(int pid) {
    return mm::proc_by_pid(pid);
}

// (As a request would: the window's delete rides the answer.)
bool peek(int pid, uint64_t va, uint64_t& value) {
    mm::Proc* p = proc(pid);
    bool ok = p && mm::copy_user(p, va, &value, sizeof value, false).ok();
    mm::g_batch.settle();
    return ok;
}

bool poke(int pid, uint64_t va, uint64_t value) {
    mm::Proc* p = proc(pid);
    bool ok = p && mm::copy_user(p, va, &value, sizeof value, true).ok();
    mm::g_batch.settle();
    return ok;
}

uint64_t free_frames() {
    mm::slots_trim(true); // as the FreeFrames request: leaves mm could give back count as free
    return mm::g_book.buddy.free_frames();
}

uint64_t available_now() {
    mm::slots_trim(true);
    return mm::available();
}

uint64_t free_at_start() {
    return mm::free_at_start();
}

std::string check_books() {
    char buf[256];
    if (!mm::g_book.buddy.check()) return "buddy allocator inconsistent";
    auto snap = mm::books_snapshot();
    if (snap.unaccounted() != 0) {
        std::snprintf(buf, sizeof buf, "frames unaccounted: %ld (total %lu free %lu in use %lu)",
                      long(snap.unaccounted()), snap.total, snap.free, snap.in_use());
        return buf;
    }
    // Every mapping is found through the index, is its process's, and its
    // frame's reference count matches the mappings that name it.
    uint64_t maps = 0, lazy_total = 0;
    for (int i = 0; i < mm::kMaxProcs; ++i) {
        mm::Proc& p = mm::g_pt.procs[i];
        uint64_t n = 0, lazy = 0;
        for (uint32_t k = p.maps; k; k = mm::mapping(k).pnext, ++n) {
            const mm::Mapping& m = mm::mapping(k);
            if (mm::is_lazy(m)) {
                ++lazy;
                if (m.slot != 0) return "a lazy mapping with a slot";
                if ((m.key & mm::kMapW) && !(m.key & mm::kMapCow))
                    return "a lazy mapping that is writable";
            }
            if (mm::proc_of(m) != &p) return "a mapping on the wrong process list";
            if (mm::find_mapping(&p, mm::va_of(m)) != k) return "a mapping the index cannot find";
            const mm::FrameInfo& f = mm::frame_info(m.frame);
            uint32_t refs = 0;
            for (uint32_t r = f.rmap; r; r = mm::mapping(r).rnext)
                ++refs;
            if (refs != f.refs) return "a frame's reference count is not its mapping count";
            if (f.owner == 0) return "a mapped frame without an owner";
            uint32_t sharers = 0, reserved = 0;
            for (uint32_t r = f.rmap; r; r = mm::mapping(r).rnext) {
                ++sharers;
                reserved += (mm::mapping(r).key & mm::kMapReserved) != 0;
            }
            if (reserved != sharers - 1) {
                std::snprintf(buf, sizeof buf, "a frame with %u sharers holds %u reserved frames",
                              sharers, reserved);
                return buf;
            }
            if (fakek::fake().mapped_pages(fakek::fake().object_of(p.as_obj)) < 1)
                return "mm records a page the kernel has not mapped";
        }
        uint64_t held = 0;
        for (uint32_t k = p.maps; k; k = mm::mapping(k).pnext)
            held += (mm::mapping(k).key & mm::kMapReserved) != 0;
        if (held != p.cow_reserved) {
            std::snprintf(buf, sizeof buf, "pid %d holds %lu copy-on-write units, its pages %lu",
                          p.pid, p.cow_reserved, held);
            return buf;
        }
        if (p.state == mm::State::Free && (n || p.tables) && !p.stuck)
            return "a free process slot holds memory";
        if (p.state == mm::State::Running && p.as_obj &&
            fakek::fake().mapped_pages(fakek::fake().object_of(p.as_obj)) != n - lazy) {
            std::snprintf(buf, sizeof buf,
                          "pid %d: mm records %lu pages (%lu lazy), the kernel maps %lu", p.pid, n,
                          lazy, fakek::fake().mapped_pages(fakek::fake().object_of(p.as_obj)));
            return buf;
        }
        maps += n;
        lazy_total += lazy;
    }
    if (maps != mm::g_maps.maps_in_use) return "mapping records lost";
    if (lazy_total != mm::g_book.lazy) return "the lazy mapping count is off";
    uint64_t reserved = 0;
    for (int i = 0; i < mm::kMaxProcs; ++i)
        reserved += mm::g_pt.procs[i].reserved + mm::g_pt.procs[i].cow_reserved +
                    mm::g_pt.procs[i].table_reserved;
    if (reserved != mm::g_book.reserved) return "reservations do not add up";
    if (mm::g_book.reserved > free_frames()) return "more promised than free";
    return "";
}

} // namespace mmh
