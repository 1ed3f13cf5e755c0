// fork: a child that shares every page of its parent; writable pages become
// copy-on-write in both (pages.cpp's break_cow copies them on the first write).
#include "errors.h"
#include "frames.h"
#include "kernel.h"
#include "mappings.h"
#include "pages.h"
#include "server.h"

namespace capframe::mm {

Result<Proc*> fork(Proc* parent) {
    Proc* c = new_proc(State::Running);
    if (!c) return Error::NoMemory;
    c->pid = g_pt.next_pid++;
    c->parent = parent->pid;
    c->group = parent->group;
    group_get(c->group);
    set_name(c, parent->name);
    auto fail = [&](Error e) -> Error {
        teardown(c);
        c->state = State::Free;
        return e;
    };
    if (auto r = make_process_objects(c); !r.ok()) return fail(r.error());
    c->heap_base = parent->heap_base, c->brk = parent->brk;
    // The heap's promises: its untouched pages, and every table of its
    // regions (the child's address space has none yet).
    uint64_t tables = heap_tables(c, (c->brk + kPage - 1) & ~(kPage - 1));
    if (auto r = reserve(c, parent->reserved + tables); !r.ok()) return fail(r.error());
    reserve_to_tables(c, tables);
    // Every shared page may need one copy more: the child holds a frame for
    // each, so that no copy-on-write fault can find memory gone (and its
    // mapping records and capabilities are paid for in frames).
    uint64_t pages = 0;
    for (uint32_t i = parent->maps; i; i = mapping(i).pnext)
        ++pages;
    if (auto r = reserve_cow(c, pages); !r.ok()) return fail(r.error());
    // Share every page: writable ones become copy-on-write in both.
    for (uint32_t i = parent->maps; i; i = mapping(i).pnext) {
        Mapping& m = mapping(i);
        uint64_t flags = flags_of(m) & ~kMapReserved;
        if ((flags & kMapW) && !(flags & kMapCow)) {
            if (kernel::protect(m.slot, rights_of(flags | kMapCow)) < 0) return fail(Error::Busy);
            m.key |= kMapCow;
            flags |= kMapCow;
        }
        flags |= kMapReserved;
        if (auto r = share_page(c, va_of(m), flags, m.frame); !r.ok()) return fail(r.error());
    }
    if (auto r = configure_thread(c, c->as_obj); !r.ok()) return fail(r.error());
    if (kernel::thread_copy_regs(c->thread_obj, parent->thread_obj, 0, 0) < 0 ||
        kernel::thread_start(c->thread_obj) < 0)
        return fail(Error::InvalidArgument);
    return c;
}

} // namespace capframe::mm
