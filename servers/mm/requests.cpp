// The requests of capframe/mm_protocol.h: decode, call the operation, answer.
#include "archive.h"
#include "capframe/mm_protocol.h"
#include "cpio.h"
#include "errors.h"
#include "format.h"
#include "frames.h"
#include "kernel.h"
#include "mappings.h"
#include "pages.h"
#include "server.h"

namespace capframe::mm {

namespace mmp = capframe::mmp;

namespace {

void console_sink_write(void*, const char* s, size_t n) {
    kernel::write(s, n);
}

void meminfo() {
    const abi::BootInfo& b = kernel::boot_info();
    kernel::log("meminfo: RAM free at boot %lu frames; kernel tables %lu, mm's image+objects %lu, "
                "handed to mm %lu\n",
                b.total_frames, b.kernel_boot_frames, b.mm_frames, g_book.buddy.total_frames());
    write_meminfo(Sink{console_sink_write, nullptr}, books_snapshot(), g_book.acct);
    for (int i = 0; i < kMaxProcs; ++i)
        if (g_pt.procs[i].state == State::Running)
            kernel::log("meminfo: task %d is pid %d (%s)\n", i, g_pt.procs[i].pid,
                        g_pt.procs[i].name);
    kernel::log("meminfo: \"shared\" counts heap pages promised by sbrk, not yet touched: %lu\n",
                g_book.reserved);
    uint64_t sum = b.kernel_boot_frames + b.mm_frames + g_book.buddy.total_frames();
    kernel::log("meminfo: boot accounting %s: %lu + %lu + %lu = %lu of %lu\n",
                sum == b.total_frames ? "adds up" : "MISMATCH", b.kernel_boot_frames, b.mm_frames,
                g_book.buddy.total_frames(), sum, b.total_frames);
}

// m1..m3 of a reply, through the protocol's codecs (mm_protocol.h).
void reply_words(kernel::Msg& out, const uint64_t (&m)[3]) {
    for (int w = 0; w < 3; ++w)
        out.w[1 + w] = m[w];
}

int64_t proc_info(int64_t index, kernel::Msg& out) {
    int64_t seen = 0;
    for (int i = 0; i < kMaxProcs; ++i) {
        const Proc& q = g_pt.procs[i];
        if (q.state != State::Running && q.state != State::Zombie) continue;
        if (seen++ != index) continue;
        mmp::ProcInfoReply r;
        r.parent = static_cast<uint32_t>(q.parent);
        r.state =
            static_cast<uint32_t>(q.state == State::Running ? mmp::kProcRunning : mmp::kProcZombie);
        r.frames = g_book.acct.task_total(id_of(&q));
        for (size_t k = 0; k < sizeof r.name && k < sizeof q.name && q.name[k]; ++k)
            r.name[k] = q.name[k];
        uint64_t m[3];
        mmp::encode(r, m);
        reply_words(out, m);
        return q.pid;
    }
    return err(Errno::Srch);
}

int64_t program(int64_t index, kernel::Msg& out) {
    const CpioEntry* e = index < 0 ? nullptr : archive_at(static_cast<size_t>(index));
    if (!e) return err(Errno::NoEnt);
    mmp::ProgramReply r;
    for (size_t k = 0; k < e->name_len && k < sizeof r.name - 1; ++k)
        r.name[k] = e->name[k];
    uint64_t m[3];
    mmp::encode(r, m);
    reply_words(out, m);
    return 0;
}

int64_t revoke_page(Proc* p, uint64_t va, kernel::Msg& out) {
    // Revokes the frame: every capability derived from it goes, and with
    // them the mappings they made.
    uint32_t i = va % kPage ? kNone : find_mapping(p, va);
    if (!i) return err(Errno::Inval);
    FrameInfo& f = frame_info(mapping(i).frame);
    // Only a frame no other process maps: a page shared by fork (text,
    // copy-on-write data) would vanish from the other side too.
    for (uint32_t k = f.rmap; k; k = mapping(k).rnext)
        if (proc_of(mapping(k)) != p) return err(Errno::Perm);
    int64_t n = kernel::cap_revoke(f.block_slot);
    for (uint32_t k = f.rmap; k;) {
        uint32_t next = mapping(k).rnext;
        remove_mapping(k, mapping(k).slot != f.block_slot);
        k = next;
    }
    out.w[1] = static_cast<uint64_t>(n);
    return 0;
}

Result<void> read_args(Proc* p, uint64_t argv_va, Args& args) {
    args.argc = args.bytes = 0;
    if (!argv_va) return {};
    for (;;) {
        uint64_t ptr = 0;
        TRY(copy_user(p, argv_va + args.argc * 8, &ptr, 8, false));
        if (!ptr) return {};
        if (args.argc == abi::kMaxArgs) return Error::TooMany;
        auto n = copy_string(p, ptr, args.strings + args.bytes, abi::kMaxArgBytes - args.bytes);
        if (!n.ok()) return n.error();
        args.offsets[args.argc++] = static_cast<uint16_t>(args.bytes);
        args.bytes += n.value() + 1;
    }
}

} // namespace

bool request(Proc* p, const kernel::Msg& m, kernel::Msg& out) {
    auto answer = [&](int64_t e) {
        out.w[0] = static_cast<uint64_t>(e);
        return true;
    };
    switch (static_cast<mmp::Request>(m.w[0])) {
    case mmp::Request::Exit:
        if (p->pid == g_pt.init_pid)
            kernel::log("mm: pid %d (%s) exited with status %ld\n", p->pid, p->name,
                        static_cast<int64_t>(m.w[1]));
        end_process(p, static_cast<int>(m.w[1]));
        return false;
    case mmp::Request::Getpid:
        return answer(p->pid);
    case mmp::Request::Meminfo: {
        meminfo();
        auto s = books_snapshot();
        out.w[1] = s.total, out.w[2] = s.free, out.w[3] = s.in_use();
        return true;
    }
    case mmp::Request::FreeFrames:
        slots_trim(true); // the leaves mm could give back do not count as used
        out.w[1] = g_book.buddy.free_frames();
        return true;
    case mmp::Request::MemMap:
        out.w[1] = memmap();
        return true;
    case mmp::Request::VmPrint: {
        int pid = static_cast<int>(m.w[1]);
        Proc* target = pid == 0 ? nullptr : proc_by_pid(pid);
        if (pid != 0 && (!target || target->state != State::Running))
            return answer(err(Errno::Srch));
        kernel::log("vmprint: pid %d (%s)\n", pid, target ? target->name : "mm");
        kernel::vmprint_cap(target ? target->as_obj : abi::kSlotSelfAs);
        return true;
    }
    case mmp::Request::MapPage: {
        uint64_t va = m.w[1];
        if (va % kPage || va < abi::kUserTextBase || va >= kHeapTop || find_mapping(p, va))
            return answer(err(Errno::Inval));
        auto r = new_page_riding(p, va, m.w[2] ? kMapW : 0, false, true);
        return answer(r.ok() ? 0 : errno_of(r.error()));
    }
    case mmp::Request::UnmapPage: {
        uint32_t i = m.w[1] % kPage ? kNone : find_mapping(p, m.w[1]);
        if (!i) return answer(err(Errno::Inval));
        remove_mapping_riding(i);
        return true;
    }
    case mmp::Request::RevokePage:
        return answer(revoke_page(p, m.w[1], out));
    case mmp::Request::Fork: {
        auto c = fork(p, m.w[1]);
        return answer(c.ok() ? c.value()->pid : errno_of(c.error()));
    }
    case mmp::Request::Exec: {
        static char path[32];
        static Args args;
        {
            UserWindowScope one_window; // the path and argv, mostly on one page
            if (auto r = copy_string(p, m.w[1], path, sizeof path); !r.ok())
                return answer(r.error() == Error::TooMany ? err(Errno::NoEnt)
                                                          : errno_of(r.error()));
            if (auto r = read_args(p, m.w[2], args); !r.ok())
                return answer(r.error() == Error::TooMany ? err(Errno::TooBig)
                                                          : errno_of(r.error()));
        } // (before exec_into frees the old image)
        auto r = exec_into(p, path, args, false);
        if (!r.ok()) return answer(errno_of(r.error()));
        return false; // the thread runs the new image
    }
    case mmp::Request::Wait: {
        int64_t result = 0;
        if (wait(p, m.w[1], result, m.w[2] & mmp::kWaitStatusInAnswer)) return answer(result);
        return false;
    }
    case mmp::Request::Kill: {
        Proc* t = proc_by_pid(static_cast<int>(m.w[1]));
        if (!t || t->state != State::Running) return answer(err(Errno::Srch));
        if (t->pid == g_pt.init_pid) return answer(err(Errno::Perm));
        kernel::log("mm: pid %d (%s) killed by pid %d\n", t->pid, t->name, p->pid);
        bool self = t == p;
        end_process(t, -1);
        return self ? false : answer(0);
    }
    case mmp::Request::Sbrk:
        return answer(sbrk(p, static_cast<int64_t>(m.w[1])));
    case mmp::Request::SetLimit:
        return answer(set_limit(p, static_cast<int>(m.w[1]), m.w[2]));
    case mmp::Request::ProcInfo:
        return answer(proc_info(static_cast<int64_t>(m.w[1]), out));
    case mmp::Request::Program:
        return answer(program(static_cast<int64_t>(m.w[1]), out));
    case mmp::Request::PrepareWrite: {
        uint64_t va = m.w[1], n = m.w[2];
        if (va + n < va || va + n > abi::kMaxVa) return answer(err(Errno::Fault));
        for (uint64_t page = va & ~(kPage - 1); page < va + n; page += kPage)
            if (!touch(p, page, true).ok()) return answer(err(Errno::Fault));
        return true;
    }
    case mmp::Request::FailAlloc:
        g_book.fail_after = m.w[1];
        g_book.fail_pid = p->pid;
        return true;
    }
    return answer(err(Errno::NoSys));
}

bool handle_message(int64_t r, const kernel::Msg& m, kernel::Msg& out) {
    uint64_t badge = m.badge;
    Proc* p = proc_by_pid(static_cast<int>(badge & 0xffffffff));
    if (r < 0 || !p || p->state != State::Running) {
        out.w[0] = static_cast<uint64_t>(err(Errno::Inval));
        return true;
    }
    if (badge & kFaultBit) {
        if (m.w[0] == abi::kFaultLabel && handle_fault(p, m)) {
            out.w[0] = 0; // resume
            return true;
        }
        kill_for_fault(p, m);
        return false;
    }
    bool arming = m.w[0] == static_cast<uint64_t>(mmp::Request::FailAlloc);
    g_book.serving_pid = p->pid;
    bool reply = request(p, m, out);
    g_book.serving_pid = 0;
    if (!arming && g_book.fail_pid == p->pid) g_book.fail_after = 0; // one request only
    return reply;
}

} // namespace capframe::mm
