// Fuzzes the kernel's capability operations (kernel/cap.cpp, compiled for the
// host unchanged) with system-call sequences decoded from the input.
//
// "Physical memory" is a host arena, so the identity map the kernel relies on
// (phys_to<T>(pa)) holds: capability tables made by Retype really live in
// their frames. Copy, delete, revoke, split and retype go through the
// kernel's own decoders (kernel/syscall_cap.cpp: lookup, table_of,
// lookup_empty, then the operation), with slot numbers that are often
// forged: 0, past the table, huge. Map / Unmap / MapTable keep
// the capability-side checks of kernel/vmops.cpp; the object hooks
// (thread_init, *_check_destroy, *_destroy, as_init, frame_unmap) are stubs
// that track which objects exist and can be made busy.
//
// After every call the whole state is checked: the mapping database is one
// consistent list holding exactly the capabilities in the reachable tables,
// depths and rights follow derivation, split/donated flags match the
// children, objects exist exactly while their capability does, and no frame
// that is or can be mapped overlaps memory the kernel uses (donated frames),
// and every frame the kernel believes zero (Cap::zeroed, which lets retype
// and MapTable skip zeroing) is: mapped frames, objects and tables are
// scribbled on as their users would. At the end everything is revoked and deleted: every table must
// be empty and every frame zeroed again.
//
// A frame that is a *copy* must never be split, retyped or donated: the frame
// it was copied from could still map the memory (this fuzzer found the kernel
// allowing it; docs/reliability.md). Each of those calls asserts so.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "cap.h"
#include "fuzz.h"
#include "sv39.h"
#include "syscalls.h"

using namespace capframe;

namespace {

constexpr uint64_t kArenaPages = 128;
constexpr uint64_t kArenaBytes = kArenaPages * kPageSize;

uint8_t* g_arena;                  // "physical memory": 128 pages, 512 KiB aligned
alignas(64) Cap g_root_slots[128]; // the thread's own table (boot-time, not in the arena)
Endpoint g_boot_endpoint;          // a boot-time root object
Thread g_thread;
Cap* g_sentinel; // the MDB's list head inside cap.cpp

// Extra coverage for libFuzzer: which call succeeded or failed on what kind
// of capability (a root, a copy, a split half, a retyped object). Code
// coverage alone cannot tell "retype of a copy" from "retype of a root".
__attribute__((section("__libfuzzer_extra_counters"))) uint8_t g_features[4096];

struct Object {
    ObjType type;
    bool busy = false;
};
std::map<uint64_t, Object> g_objects; // Thread / AddressSpace / Endpoint made by retype
std::set<uint64_t> g_user_written;    // pages a writable mapping scribbled on (mm zeroes those)

uint64_t pa_of(const void* p) {
    return reinterpret_cast<uint64_t>(p);
}

Object& object_at(uint64_t pa, ObjType type) {
    auto it = g_objects.find(pa);
    FUZZ_CHECK(it != g_objects.end() && it->second.type == type);
    return it->second;
}

} // namespace

// ---- the kernel's object hooks (thread.cpp, vmops.cpp) as stubs ----
namespace capframe {

// What a user or the kernel would write into memory it uses (a mapped
// frame, a page table, an object's fields): not zero, so that a frame the
// kernel wrongly believes zero (Cap::zeroed) shows.
void scribble(uint64_t pa, uint64_t bytes) {
    std::memset(reinterpret_cast<void*>(pa), 0x5a, bytes);
}

void thread_init(Thread* t) {
    scribble(pa_of(t), sizeof(Thread)); // the kernel writes a thread only through its fields
    FUZZ_CHECK(!g_objects.count(pa_of(t)));
    g_objects[pa_of(t)] = Object{ObjType::Thread};
}
Result<void> thread_check_destroy(const Thread* t) {
    return object_at(pa_of(t), ObjType::Thread).busy ? Result<void>(Error::Busy) : Result<void>();
}
void thread_destroy(Thread* t) {
    FUZZ_CHECK(!object_at(pa_of(t), ObjType::Thread).busy);
    g_objects.erase(pa_of(t));
}
// As vmops.cpp: as_init writes the three table entries that reach the
// trampoline and the header; as_clear clears them (at deletion nothing else
// is left). The words are the real ones' places.
constexpr uint64_t kAsWords[] = {sv39::index(abi::kTrampolineVa, 2),
                                 kPageSize / 8 + sv39::index(abi::kTrampolineVa, 1),
                                 2 * kPageSize / 8 + sv39::index(abi::kTrampolineVa, 0)};
void as_init(uint64_t pa) {
    for (uint64_t w : kAsWords)
        reinterpret_cast<uint64_t*>(pa)[w] = 0x5a5a;
    scribble(pa + kAsHeaderOffset, sizeof(AddressSpace));
    FUZZ_CHECK(!g_objects.count(pa));
    g_objects[pa] = Object{ObjType::AddressSpace};
}
void as_clear(AddressSpace* as) {
    const uint64_t pa = pa_of(as) - kAsHeaderOffset;
    for (uint64_t w : kAsWords)
        reinterpret_cast<uint64_t*>(pa)[w] = 0;
    *as = AddressSpace{};
}
Result<void> as_check_destroy(const AddressSpace* as) {
    const uint64_t pa = pa_of(as) - kAsHeaderOffset;
    return object_at(pa, ObjType::AddressSpace).busy ? Result<void>(Error::Busy) : Result<void>();
}
Result<void> endpoint_check_destroy(const Endpoint* ep) {
    return object_at(pa_of(ep), ObjType::Endpoint).busy ? Result<void>(Error::Busy)
                                                        : Result<void>();
}
void endpoint_destroy(Endpoint* ep) {
    FUZZ_CHECK(!object_at(pa_of(ep), ObjType::Endpoint).busy);
    g_objects.erase(pa_of(ep));
}
void frame_unmap(Cap* frame) {
    FUZZ_CHECK(frame->type == ObjType::Frame && (frame->flags & abi::kCapMapped));
    frame->flags &= static_cast<uint8_t>(~abi::kCapMapped);
    frame->map_root = frame->map_va = 0;
}

} // namespace capframe

namespace {

enum class Op : uint8_t {
    Copy,
    Delete,
    Revoke,
    Split,
    Retype,
    Map,
    Unmap,
    MapTable,
    UnmapTable,
    Busy,
    Info,
    Count
};

bool in_arena(uint64_t pa, uint64_t bytes) {
    const uint64_t a = pa_of(g_arena);
    return pa >= a && bytes <= kArenaBytes && pa - a <= kArenaBytes - bytes;
}

uint64_t bytes_of(const Cap& c) {
    return kPageSize << c.order;
}

// The MDB parent: the nearest capability before c with a smaller depth.
Cap* parent_of(const Cap* c) {
    for (Cap* p = c->prev; p != g_sentinel; p = p->prev)
        if (p->depth < c->depth) return p;
    return nullptr;
}

bool is_frame_copy(const Cap* c) {
    const Cap* p = parent_of(c);
    return p && p->type == ObjType::Frame && !(p->flags & abi::kCapSplit);
}

// Every table reachable from the thread's: its own and those CapTable
// capabilities name, transitively.
std::vector<CapTableRef> tables() {
    std::vector<CapTableRef> out{g_thread.table};
    std::set<const Cap*> seen{g_thread.table.slots};
    for (size_t i = 0; i < out.size(); ++i) {
        for (uint64_t s = 1; s < out[i].count; ++s) {
            const Cap& c = out[i].slots[s];
            if (c.type != ObjType::CapTable) continue;
            CapTableRef t{reinterpret_cast<Cap*>(c.object), abi::kCapSlotsPerPage << c.order};
            FUZZ_CHECK(in_arena(c.object, bytes_of(c)));
            FUZZ_CHECK(t.header()->slot_count == t.count);
            if (seen.insert(t.slots).second) out.push_back(t);
        }
    }
    return out;
}

// ---- the system calls: the capability calls through the kernel's own
// decoders (kernel/syscall_cap.cpp), the rest through their capability
// checks ----

Result<int64_t> syscall(Op op, const uint64_t a5[5]) {
    Thread& t = g_thread;
    const uint64_t a[6] = {a5[0], a5[1], a5[2], a5[3], a5[4], 0};
    switch (op) {
    case Op::Copy:
        return sys_cap_copy(t, a);
    case Op::Delete:
        return sys_cap_delete(t, a);
    case Op::Revoke:
        return sys_cap_revoke(t, a);
    case Op::Split: {
        auto f = lookup(t, a[0], ObjType::Frame);
        bool copy = f.ok() && is_frame_copy(f.value());
        TRY(sys_frame_split(t, a));
        FUZZ_CHECK(!copy); // a copy of a frame never splits
        return 0;
    }
    case Op::Retype: {
        auto f = lookup(t, a[0], ObjType::Frame);
        bool copy = f.ok() && is_frame_copy(f.value());
        TRY(sys_retype(t, a));
        FUZZ_CHECK(!copy); // a copy of a frame is never donated
        Cap* dst = lookup(t, a[2], ObjType::Null).value();
        if (dst->type == ObjType::Endpoint) { // retype has no endpoint hook
            FUZZ_CHECK(!g_objects.count(dst->object));
            g_objects[dst->object] = Object{ObjType::Endpoint};
        }
        return 0;
    }
    case Op::Map: { // frame_map's capability checks
        Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
        if (!f->has(abi::kRightMap)) return Error::Permission;
        if (f->flags & (abi::kCapMapped | abi::kCapDonated | abi::kCapSplit)) return Error::Busy;
        f->flags |= abi::kCapMapped;
        f->zeroed = 0; // as frame_map: user code writes it (below)
        f->map_root = 1;
        f->map_va = a[1] & ~(kPageSize - 1);
        if (f->rights & abi::kRightWrite) {
            scribble(f->object, bytes_of(*f));
            for (uint64_t off = 0; off < bytes_of(*f); off += kPageSize)
                g_user_written.insert(f->object + off);
        }
        return 0;
    }
    case Op::Unmap: {
        Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
        if (!(f->flags & abi::kCapMapped)) return Error::NotMapped;
        frame_unmap(f);
        return 0;
    }
    case Op::MapTable: { // table_map's capability checks
        Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
        if (!f->has(abi::kRightDonate)) return Error::Permission;
        if (f->order != 0) return Error::InvalidArgument;
        if (!frame_free_for_use(f)) return Error::Busy;
        FUZZ_CHECK(!is_frame_copy(f));
        frame_zero_for_use(f); // as table_map: then entries are written
        scribble(f->object, kPageSize);
        f->flags |= abi::kCapDonated;
        f->donated_as = kDonatedTable;
        return 0;
    }
    case Op::UnmapTable: { // table_unmap + table_release
        Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
        if (!(f->flags & abi::kCapDonated) || f->donated_as != kDonatedTable)
            return Error::InvalidArgument;
        std::memset(reinterpret_cast<void*>(f->object), 0, kPageSize); // (emptied first)
        f->flags &= static_cast<uint8_t>(~abi::kCapDonated);
        f->donated_as = 0;
        f->zeroed = 1; // as table_release
        return 0;
    }
    case Op::Busy: { // a thread runs in it / waits on it / uses the table
        Cap* c = TRY(lookup(t, a[0], ObjType::Null));
        if (c->type == ObjType::CapTable) {
            CapTableRef r{reinterpret_cast<Cap*>(c->object), abi::kCapSlotsPerPage << c->order};
            r.header()->bound_threads = a[1] & 1;
        } else if (auto it = g_objects.find(c->object); it != g_objects.end()) {
            it->second.busy = a[1] & 1;
        }
        return 0;
    }
    default: {
        Cap* c = TRY(lookup(t, a[0], ObjType::Null));
        return static_cast<int64_t>(c->type);
    }
    }
}

// What kind of capability a slot holds, for g_features.
unsigned kind_of(uint64_t slot) {
    if (slot == 0 || slot >= g_thread.table.count || g_root_slots[slot].empty()) return 0;
    const Cap* c = &g_root_slots[slot];
    const Cap* p = parent_of(c);
    unsigned relation = !p                                                         ? 1
                        : p->type != c->type                                       ? 2  // object
                        : p->type == ObjType::Frame && (p->flags & abi::kCapSplit) ? 3  // half
                                                                                   : 4; // copy
    return relation * 8 + static_cast<unsigned>(c->type) % 8 + (has_children(c) ? 64 : 0);
}

// ---- invariants ----

void check_state() {
    std::set<const Cap*> caps;
    for (const CapTableRef& t : tables()) {
        for (uint64_t s = 1; s < t.count; ++s)
            if (!t.slots[s].empty()) caps.insert(&t.slots[s]);
    }
    // The MDB holds exactly those capabilities, linked both ways, each
    // followed by its descendants one level deeper at most.
    size_t n = 0;
    uint32_t depth = 0;
    for (Cap* c = g_sentinel->next; c != g_sentinel; c = c->next) {
        FUZZ_CHECK(++n <= caps.size());
        FUZZ_CHECK(caps.count(c) && c->next->prev == c && c->prev->next == c);
        FUZZ_CHECK(c->depth <= depth + 1 && (c != g_sentinel->next || c->depth == 0));
        depth = c->depth;
    }
    FUZZ_CHECK(n == caps.size());

    std::vector<const Cap*> donated, mappable;
    for (Cap* c = g_sentinel->next; c != g_sentinel; c = c->next) {
        const Cap* p = parent_of(c);
        FUZZ_CHECK(c->type != ObjType::Null && c->type <= ObjType::Control);
        FUZZ_CHECK((c->rights & ~abi::kRightsAll) == 0);
        if (p && p->type == c->type && p->object == c->object && !(p->flags & abi::kCapSplit)) {
            // A copy: never more rights, same extent.
            FUZZ_CHECK((c->rights & ~p->rights) == 0 && c->order == p->order);
            FUZZ_CHECK(c->badge == p->badge || (p->badge == 0 && c->type == ObjType::Endpoint));
        }
        if (p && p->type == ObjType::Frame && (p->flags & abi::kCapSplit)) {
            // A piece of a split frame: a half, or a smaller piece of one
            // (a half split in place stays the split frame's child, at the
            // same depth), inside the frame's extent.
            FUZZ_CHECK(c->type == ObjType::Frame && c->order < p->order);
            FUZZ_CHECK(c->object >= p->object &&
                       c->object + bytes_of(*c) <= p->object + bytes_of(*p));
            FUZZ_CHECK(c->rights == p->rights);
        }
        if (c->type != ObjType::Frame) {
            FUZZ_CHECK(c->flags == 0);
            continue;
        }
        FUZZ_CHECK(in_arena(c->object, bytes_of(*c)) && c->object % bytes_of(*c) == 0);
        if (c->zeroed) { // the kernel skips zeroing it: it must be zero
            const auto* b = reinterpret_cast<const uint8_t*>(c->object);
            for (uint64_t i = 0; i < bytes_of(*c); ++i)
                FUZZ_CHECK(b[i] == 0);
        }
        const bool children = has_children(c);
        FUZZ_CHECK(!(c->flags & abi::kCapSplit) || children);
        FUZZ_CHECK(!(c->flags & abi::kCapMapped) || c->has(abi::kRightMap));
        const int states = !!(c->flags & abi::kCapMapped) + !!(c->flags & abi::kCapDonated) +
                           !!(c->flags & abi::kCapSplit);
        FUZZ_CHECK(states <= 1);
        if (c->flags & abi::kCapDonated) {
            donated.push_back(c);
            if (c->donated_as == kDonatedObject) {
                // Its first child is the object, in its memory.
                FUZZ_CHECK(children && c->next->type != ObjType::Frame &&
                           c->next->object == c->object && c->next->order == c->order);
            } else {
                FUZZ_CHECK(c->donated_as == kDonatedTable && !children);
            }
        } else if (!(c->flags & abi::kCapSplit) && c->has(abi::kRightMap)) {
            mappable.push_back(c); // mapped now, or can be
        }
    }
    // No mapping of kernel memory can exist or appear (docs/capabilities.md).
    for (const Cap* m : mappable)
        for (const Cap* d : donated)
            FUZZ_CHECK(m->object + bytes_of(*m) <= d->object ||
                       d->object + bytes_of(*d) <= m->object);

    // Objects exist exactly while the capability retype made does.
    std::set<uint64_t> live;
    for (const Cap* d : donated) {
        if (d->donated_as != kDonatedObject) continue;
        live.insert(d->object);
        if (d->next->type != ObjType::CapTable) object_at(d->object, d->next->type);
    }
    for (auto it = g_objects.begin(); it != g_objects.end();) {
        if (it->second.type == ObjType::AddressSpace && !live.count(it->first)) {
            it = g_objects.erase(it); // as_check_destroy passed: nothing to tear down
            continue;
        }
        FUZZ_CHECK(live.count(it->first));
        ++it;
    }
}

// A slot number: mostly a full (or an empty) slot of the thread's table,
// sometimes one of the forged kinds: 0, just past the end, huge, anything.
uint64_t pick_slot(FuzzedDataProvider& in, bool full) {
    const uint64_t count = g_thread.table.count;
    switch (in.ConsumeIntegralInRange(0, 15)) {
    case 0:
        return 0;
    case 1:
        return count + in.ConsumeIntegralInRange<uint64_t>(0, 2);
    case 2:
        return in.ConsumeIntegral<uint64_t>();
    case 3:
        return uint64_t{1} << in.ConsumeIntegralInRange(0, 63);
    case 4:
    case 5:
        return in.ConsumeIntegralInRange<uint64_t>(1, 20);
    default: {
        auto n = in.ConsumeIntegralInRange<uint64_t>(0, 15);
        for (uint64_t s = 1; s < count; ++s)
            if (g_root_slots[s].empty() != full && n-- == 0) return s;
        return 1;
    }
    }
}

void boot() {
    std::memset(g_arena, 0, kArenaBytes);
    std::memset(static_cast<void*>(g_root_slots), 0, sizeof g_root_slots);
    g_objects.clear();
    g_user_written.clear();
    g_thread.table = CapTableRef{g_root_slots, std::size(g_root_slots)};
    g_thread.table.header()->slot_count = std::size(g_root_slots);
    mdb_init();
    struct Root {
        ObjType type;
        uint64_t first_page;
        uint8_t order, rights;
    };
    const Root roots[] = {
        {ObjType::Frame, 0, 6, abi::kRightsAll},  {ObjType::Frame, 64, 5, abi::kRightsAll},
        {ObjType::Frame, 96, 2, abi::kRightsAll}, {ObjType::Frame, 100, 0, 1 | 2 | 8},
        {ObjType::Frame, 101, 0, 1 | 16},         {ObjType::Endpoint, 0, 0, abi::kRightsAll},
    };
    for (size_t i = 0; i < std::size(roots); ++i) {
        Cap& c = g_root_slots[i + 1];
        c.type = roots[i].type;
        c.order = roots[i].order;
        c.rights = roots[i].rights;
        c.object = roots[i].type == ObjType::Frame
                       ? pa_of(g_arena) + roots[i].first_page * kPageSize
                       : pa_of(&g_boot_endpoint);
        mdb_insert_root(&c);
        if (i == 0) g_sentinel = c.prev;
    }
}

// Everything is revoked and deleted; nothing may be left.
void teardown() {
    for (auto& [pa, o] : g_objects)
        o.busy = false;
    for (const CapTableRef& t : tables())
        t.header()->bound_threads = 0;
    for (Cap* c = g_sentinel->next; c != g_sentinel; c = c->next)
        if (c->type == ObjType::Frame && (c->flags & abi::kCapDonated) &&
            c->donated_as == kDonatedTable) { // as UnmapTable of an emptied table
            std::memset(reinterpret_cast<void*>(c->object), 0, kPageSize);
            c->flags &= static_cast<uint8_t>(~abi::kCapDonated);
            c->donated_as = 0;
            c->zeroed = 1;
        }
    // A table can only go once the capabilities in it are gone, and those
    // may descend from another root: revoke round after round.
    for (int round = 0; g_sentinel->next != g_sentinel; ++round) {
        FUZZ_CHECK(round < 64);
        for (uint64_t s = 1; s < g_thread.table.count; ++s) {
            Cap& c = g_root_slots[s];
            if (c.empty() || c.depth != 0) continue;
            if (cap_revoke(&c).ok()) FUZZ_CHECK(cap_delete(&c).ok());
        }
        check_state();
    }
    FUZZ_CHECK(g_sentinel->next == g_sentinel && g_sentinel->prev == g_sentinel);
    for (uint64_t s = 1; s < g_thread.table.count; ++s)
        FUZZ_CHECK(g_root_slots[s].empty());
    FUZZ_CHECK(g_objects.empty());
    static const uint8_t zero[kPageSize] = {};
    // Kernel memory (objects, tables) came back zeroed; what a user wrote
    // stays (mm zeroes a page before it hands it out).
    for (uint64_t off = 0; off < kArenaBytes; off += kPageSize)
        if (!g_user_written.count(pa_of(g_arena) + off))
            FUZZ_CHECK(std::memcmp(g_arena + off, zero, kPageSize) == 0);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    g_arena = static_cast<uint8_t*>(std::aligned_alloc(kArenaBytes, kArenaBytes));
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    boot();
    check_state();
    for (int steps = 0; steps < 300 && in.remaining_bytes(); ++steps) {
        const auto op = static_cast<Op>(
            in.ConsumeIntegralInRange<uint8_t>(0, static_cast<uint8_t>(Op::Count) - 1));
        const uint64_t count = g_thread.table.count;
        // Source first, then where results go (mostly empty slots); for a
        // copy, a[1] is the destination table (mostly 0: the thread's own).
        const bool second_full = op == Op::Copy || op == Op::Busy;
        uint64_t a[5] = {pick_slot(in, true), pick_slot(in, second_full), pick_slot(in, false), 0,
                         0};
        switch (op) {
        case Op::Copy:
            a[1] = in.ConsumeIntegralInRange(0, 3) ? 0 : a[1];
            a[3] = in.ConsumeIntegralInRange(0, 7) ? in.ConsumeIntegral<uint8_t>()
                                                   : in.ConsumeIntegral<uint64_t>();
            a[4] = in.ConsumeIntegralInRange(0, 3) ? 0 : in.ConsumeIntegralInRange(1, 3);
            break;
        case Op::Retype:
            a[1] = in.ConsumeIntegralInRange(0, 15) ? in.ConsumeIntegralInRange(0, 7)
                                                    : in.ConsumeIntegral<uint64_t>();
            break;
        default:
            break;
        }
        const unsigned kind = kind_of(a[0]);
        Result<int64_t> r = syscall(op, a);
        g_features[(static_cast<unsigned>(op) * 128 + kind) * 2 % sizeof g_features + r.ok()] = 1;
        if (!r.ok()) {
            const Error e = r.error();
            FUZZ_CHECK(e == Error::OutOfRange || e == Error::BadSlot || e == Error::BadType ||
                       e == Error::AlreadyMapped || e == Error::InvalidArgument ||
                       e == Error::Busy || e == Error::Permission || e == Error::NotMapped);
            if (a[0] == 0 || a[0] >= count) FUZZ_CHECK(e == Error::OutOfRange);
        }
        check_state();
    }
    teardown();
    return 0;
}
