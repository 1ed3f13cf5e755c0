// The fake kernel of mm's host tests (fake_kernel.h): set-up, the test
// programs and archive, queries, and the calls of kernel.h answered by the fake. The
// calls themselves: fake_kernel_caps.cpp, fake_kernel_vm.cpp.
#include "fake_kernel_impl.h"

#include "../elf_writer.h"
#include "mm_sizing.h"
#include "slots.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace fakek {

namespace {

FakeKernel g_fake;

} // namespace

FakeKernel& fake() {
    return g_fake;
}

Bytes make_program(uint64_t text, uint64_t data, uint64_t bss) {
    // Header and two program headers in the first page; text from 0x1000,
    // data from the next page boundary after it.
    using namespace elf_writer;
    uint64_t text_off = 0x1000, text_va = 0x10000;
    uint64_t data_off = (text_off + text + kPage - 1) & ~(kPage - 1);
    uint64_t data_va = text_va + (data_off - text_off);
    return build(text_va,
                 {{PT_LOAD, R | X, text_off, text_va, text, text, kPage},
                  {PT_LOAD, R | W, data_off, data_va, data, data + bss, kPage}},
                 data_off + data);
}

Bytes make_archive(const std::vector<std::pair<std::string, Bytes>>& files) {
    Bytes out;
    auto hex8 = [&](uint32_t v) {
        char s[9];
        std::snprintf(s, sizeof s, "%08x", v);
        out.insert(out.end(), s, s + 8);
    };
    auto pad = [&] {
        while (out.size() % 4)
            out.push_back(0);
    };
    uint32_t ino = 1;
    auto add = [&](const std::string& name, uint32_t mode, const Bytes& data) {
        const char magic[] = "070701";
        out.insert(out.end(), magic, magic + 6);
        uint32_t f[13] = {
            ino++, mode, 0, 0, 1, 0, uint32_t(data.size()), 0, 0, 0, 0, uint32_t(name.size() + 1),
            0};
        for (uint32_t v : f)
            hex8(v);
        out.insert(out.end(), name.begin(), name.end());
        out.push_back(0);
        pad();
        out.insert(out.end(), data.begin(), data.end());
        pad();
    };
    for (auto& [name, data] : files)
        add(name, 0100755, data);
    add("TRAILER!!!", 0, {});
    return out;
}

void FakeKernel::reset(uint64_t frames, uint64_t slots, Bytes arch) {
    *this = FakeKernel{};
    archive = std::move(arch);
    uint64_t dir =
        slots ? (slots + CapSpace::kLeaf - 1) / CapSpace::kLeaf : capframe::mm_dir_entries(frames);
    caps_.reset(dir);
    leaf_obj_.assign(dir, -1);
    // Boot leaves as kernel/boot_mm.cpp makes them: the frame capabilities
    // (at most 2 per order) and the spare slots.
    uint64_t boot_caps = 8 + 2 * 19 + 64 + capframe::kMmBootSpareSlots;
    boot_leaves_ = (boot_caps + CapSpace::kLeaf - 2) / (CapSpace::kLeaf - 1);
    if (boot_leaves_ > dir) boot_leaves_ = dir;
    for (uint64_t i = 0; i < boot_leaves_; ++i)
        caps_.attach(i);
    // mm's boot capabilities: its table, address space, thread, Control.
    auto boot_object = [&](uint64_t slot, ObjType t) {
        objects_.emplace_back();
        objects_.back().type = t;
        caps_[slot].type = t;
        caps_[slot].obj = int(objects_.size() - 1);
        caps_[slot].rights = abi::kRightsAll;
        caps_[slot].original = true;
    };
    boot_object(abi::kSlotSelfCapTable, ObjType::CapTable);
    boot_object(abi::kSlotSelfAs, ObjType::AddressSpace);
    boot_object(abi::kSlotSelfThread, ObjType::Thread);
    boot_object(abi::kSlotControl, ObjType::Control);
    // Every frame as maximal aligned blocks.
    uint64_t next = 8, pa = kRamBase, end = kRamBase + frames * kPage;
    info.first_frame_slot = next;
    while (pa < end) {
        uint8_t order = 0;
        while (order < 18 && pa % (kPage << (order + 1)) == 0 && pa + (kPage << (order + 1)) <= end)
            ++order;
        if (next % CapSpace::kLeaf == 0) ++next;
        Cap& c = caps_[next++];
        c.type = ObjType::Frame, c.pa = pa, c.order = order, c.rights = abi::kRightsAll;
        pa += kPage << order;
    }
    info.magic = abi::kBootInfoMagic;
    info.total_frames = frames;
    info.mm_captable_slots = caps_.size();
    info.cap_dir_entries = caps_.dir_entries();
    info.boot_leaves = boot_leaves_;
    info.frame_slot_count = next - info.first_frame_slot;
    info.first_free_slot = first_free_ = next;
    info.image_bytes = archive.size();
    info.window_base = kRamBase;
    info.window_frames = frames;
    info.meta_bytes = frames * abi::kMetaBytesPerFrame + abi::kMetaSlackBytes;
    info.meta_zeroed_bytes = frames * abi::kMetaZeroedBytesPerFrame + abi::kMetaSlackBytes;
    info.slot_book_bytes = capframe::mm::SlotAllocator::book_bytes(caps_.dir_entries());
    meta_.assign(info.meta_bytes + info.slot_book_bytes, 0);
    // The part the kernel does not zero (mapping records) holds junk, as
    // RAM does on a board: mm must never read a record it did not write.
    std::fill(meta_.begin() + static_cast<std::ptrdiff_t>(info.meta_zeroed_bytes),
              meta_.begin() + static_cast<std::ptrdiff_t>(info.meta_bytes), uint8_t{0xa5});
}

uint64_t FakeKernel::live_objects() const {
    uint64_t n = 0;
    for (const Object& o : objects_)
        n += o.alive;
    return n;
}

uint64_t FakeKernel::mapped_pages(int as_obj) const {
    return objects_.at(size_t(as_obj)).pages.size();
}

uint64_t FakeKernel::used_slots() const {
    uint64_t n = 0;
    for (uint64_t i = 0; i < caps_.size(); ++i)
        if (const Cap* c = caps_.get(i)) n += c->type != ObjType::Null;
    return n;
}

uint64_t FakeKernel::attached_leaves() const {
    uint64_t n = 0;
    for (uint64_t i = 0; i < caps_.dir_entries(); ++i)
        n += caps_.attached(i);
    return n;
}

int FakeKernel::object_of(uint64_t slot) const {
    const Cap* c = caps_.get(slot);
    return c ? c->obj : -1;
}

bool FakeKernel::injected(abi::Sys s) {
    return fail_after && s == fail_sys && --fail_after == 0;
}

Cap* FakeKernel::cap(uint64_t slot, ObjType type) {
    Cap* c = caps_.get(slot);
    if (!c || c->type == ObjType::Null) return nullptr;
    if (type != ObjType::Null && c->type != type) return nullptr;
    return c;
}

Object* FakeKernel::object(uint64_t slot, ObjType type) {
    Cap* c = cap(slot, type);
    if (!c || c->obj < 0 || type == ObjType::Frame) return nullptr;
    return &objects_[size_t(c->obj)];
}

bool FakeKernel::free_for_use(const Cap& c) const {
    return !c.mapped && !c.donated && !c.split && !c.children &&
           (c.parent < 0 || caps_.get(uint64_t(c.parent))->split);
}

int64_t FakeKernel::empty_slot(uint64_t slot) {
    Cap* c = caps_.get(slot);
    if (!c) return e(Errno::Range);
    if (c->type != ObjType::Null) return e(Errno::Exist);
    return 0;
}

uint8_t* FakeKernel::page(uint64_t pa) {
    auto& p = memory_[pa & ~(kPage - 1)];
    if (!p) {
        p.reset(new uint8_t[kPage]);
        std::memset(p.get(), 0xa5, kPage); // junk: mm must zero what it hands out
    }
    return p.get() + (pa & (kPage - 1));
}

void* FakeKernel::view(uint64_t va) {
    if (va >= abi::kFrameMetaVa && va < abi::kFrameMetaVa + meta_.size())
        return meta_.data() + (va - abi::kFrameMetaVa);
    Object& self = objects_[size_t(caps_[abi::kSlotSelfAs].obj)];
    auto it = self.pages.find(va & ~(kPage - 1));
    if (it == self.pages.end()) return nullptr;
    return page(caps_[it->second].pa + (va & (kPage - 1)));
}

} // namespace fakek

// The rest of libsys's kernel calls that mm makes (capframe/syscalls.h):
// the fake has no console and no other thread.
namespace sys {

using fakek::fake;
namespace abi = capframe::abi;

int64_t vmprint_cap(uint64_t) {
    return 0;
}
int64_t recv(uint64_t, Msg&) {
    return abi::error_return(abi::Errno::Inval);
}
int64_t reply_recv(uint64_t, Msg&) {
    return abi::error_return(abi::Errno::Inval);
}
// As the kernel's BatchReplyRecv: the batch (one kernel call, counted as
// such), then the reply and receive (none here: the fake has no other
// thread); else Stopped, nothing replied, m.w[0] = the entries that
// succeeded.
int64_t batch_reply_recv(uint64_t ep, Msg& m, uint64_t frame, uint64_t count, bool reply) {
    fakek::FakeKernel& fk = fake();
    ++fk.batch_replies;
    uint64_t second = 0;
    int64_t r = batch(frame, count, &second);
    if (r < 0 || uint64_t(r) != count) {
        ++fk.batch_replies_stopped;
        m.w[0] = r < 0 ? 0 : uint64_t(r);
        return abi::error_return(abi::Errno::Stopped);
    }
    return reply ? reply_recv(ep, m) : recv(ep, m);
}
void yield() {}
} // namespace sys

// What kernel.h adds for mm, by the fake.
namespace capframe::mm::kernel {

using fakek::fake;

void shutdown(int status) {
    fake().shutdown_status = status;
}
void write(const char* s, size_t n) {
    fake().log.emplace_back(s, n);
}
void log(const char* fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fake().log.emplace_back(line);
}
const abi::BootInfo& boot_info() {
    return fake().info;
}
std::span<const uint8_t> boot_archive() {
    return {fake().archive.data(), fake().archive.size()};
}
void* view(uint64_t va) {
    return fake().view(va);
}

} // namespace capframe::mm::kernel
