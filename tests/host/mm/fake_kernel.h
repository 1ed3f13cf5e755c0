// A model of the kernel for mm's host tests: it implements the kernel calls
// mm makes (libsys's, capframe/syscalls.h) and the rest of servers/mm/
// kernel.h with the capability rules mm relies on (a frame maps once, a
// frame with copies or in kernel use cannot be deleted, split or retyped,
// revoke takes every descendant and its mappings, a map asks for missing
// page tables, a table goes only when empty) and checks them strictly, so
// that a bookkeeping error in mm shows up as a refused call or a leak.
//
// One instance at a time (fake()). reset() builds a machine: RAM frames in
// one window starting at kRamBase, handed to mm as maximal aligned blocks,
// and a boot archive of programs made by make_program().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "capframe/abi.h"
#include "kernel.h"

namespace fakek {

namespace abi = capframe::abi;
using Bytes = std::vector<uint8_t>;

inline constexpr uint64_t kRamBase = 0x80000000;

// A small RISC-V ELF64 executable: text (R-X) at 0x10000 with `text`
// bytes, data (RW-) after it with `data` bytes of which `bss` are zero.
Bytes make_program(uint64_t text = 0x1800, uint64_t data = 0x100, uint64_t bss = 0x2000);
// A newc cpio archive of (name, contents).
Bytes make_archive(const std::vector<std::pair<std::string, Bytes>>& files);

struct Cap {
    abi::ObjType type = abi::ObjType::Null;
    uint64_t pa = 0; // frames
    uint8_t order = 0;
    uint8_t rights = 0;
    uint64_t badge = 0;
    int64_t parent = -1; // slot in mm's table
    int children = 0;    // copies and split halves, in any table
    bool mapped = false, donated = false, split = false;
    uint64_t map_as = 0, map_va = 0;
    int obj = -1;          // object id for object caps and for donated frames
    bool original = false; // the cap made by retype (deleting it destroys the object)
};

struct Object {
    abi::ObjType type = abi::ObjType::Null;
    uint64_t frame_slot = 0; // the donated frame
    bool alive = true;
    // AddressSpace
    std::map<uint64_t, uint64_t> pages; // va -> mapping cap slot
    std::set<uint64_t> l1, l0;          // va >> 30, va >> 21 with a table
    // Thread
    int as = -1;
    uint64_t kstack_slot = 0;
    bool has_stack = false, running = false, configured = false;
    uint64_t regs[4] = {};
    // CapTable: copies held there (slot index -> parent slot in mm's table)
    std::map<uint64_t, int64_t> held;
    int64_t attached_at = -1; // a leaf of mm's space: its directory index
};

struct TableFrame { // a frame donated as a page table
    int as;
    int level; // 1: under the root; 0: leaf table
    uint64_t key;
};

// mm's two-level capability space (kernel/object.h): slot s is offset
// s % 64 of the leaf at directory index s / 64; offset 0 of a leaf is its
// header; only attached leaves have storage.
class CapSpace {
  public:
    static constexpr uint64_t kLeaf = 64;
    void reset(uint64_t dir_entries) {
        leaves_.clear();
        leaves_.resize(dir_entries);
    }
    uint64_t size() const { return leaves_.size() * kLeaf; }
    uint64_t dir_entries() const { return leaves_.size(); }
    bool attached(uint64_t index) const { return index < leaves_.size() && leaves_[index]; }
    void attach(uint64_t index) { leaves_.at(index).reset(new Cap[kLeaf]); }
    void detach(uint64_t index) { leaves_.at(index).reset(); }
    // The slot, or null (out of range, a header, no leaf there).
    Cap* get(uint64_t slot) {
        if (slot >= size() || slot % kLeaf == 0 || !leaves_[slot / kLeaf]) return nullptr;
        return &leaves_[slot / kLeaf][slot % kLeaf];
    }
    const Cap* get(uint64_t slot) const { return const_cast<CapSpace*>(this)->get(slot); }
    Cap& operator[](uint64_t slot) {
        Cap* c = get(slot);
        if (!c) throw std::out_of_range("fake kernel: no such slot");
        return *c;
    }

  private:
    std::vector<std::unique_ptr<Cap[]>> leaves_;
};

class FakeKernel {
  public:
    // A machine with `frames` frames of RAM for mm; its capability space has
    // a directory for `slots` slots (0: as the kernel sizes it) and boot
    // leaves for the boot capabilities and kMmBootSpareSlots more.
    void reset(uint64_t frames, uint64_t slots = 0, Bytes archive = {});

    // Inspection for tests.
    uint64_t live_objects() const;           // kernel objects not yet deleted (mm's own included)
    uint64_t mapped_pages(int as_obj) const; // pages mapped in an address space object
    uint64_t used_slots() const;             // mm's table, boot capabilities included
    uint64_t boot_slots() const { return first_free_; }
    uint64_t attached_leaves() const;   // leaves of mm's space, the boot leaves included
    int object_of(uint64_t slot) const; // -1 if not an object cap
    std::vector<std::pair<uint64_t, capframe::Msg>> replies; // thread slot, message
    std::vector<std::string> log;                            // lines mm printed
    int shutdown_status = -1000;                             // -1000: not shut down
    uint64_t calls = 0;                                      // kernel calls made
    // Deletes of thread objects answer Busy this many more times (a thread
    // that has not left another hart yet).
    uint64_t busy_thread_deletes = 0;
    // The fail_after-th call of kind fail_sys from now (in a batch or not)
    // answers Busy and changes nothing (0: off); the count is what is left.
    abi::Sys fail_sys = abi::Sys::Uptime;
    uint64_t fail_after = 0;

    // The kernel calls mm makes are libsys's sys:: functions (capframe/
    // syscalls.h), defined by fake_kernel_caps.cpp and fake_kernel_vm.cpp on
    // this state (fake()); a batch runs its entries through them, stops at
    // the first failure and counts as one kernel call.
    uint64_t batches = 0;            // batch calls made
    uint64_t busy_unmap_tables = 0;  // UnmapTable refused: the table was not empty
    uint64_t need_tables = 0;        // Maps refused for a missing page table (NeedTable)
    uint64_t moves = 0;              // capabilities moved (CapMove)
    uint64_t splits = 0, merges = 0; // frame capabilities split and merged (FrameSplit/Merge)
    uint64_t suspends = 0;           // ThreadSuspend calls
    uint64_t batch_replies = 0, batch_replies_stopped = 0; // BatchReplyRecv calls, and Stopped
    void* view(uint64_t va);
    abi::BootInfo info{};
    Bytes archive;

    // The model's state and helpers, for the calls (the fake's own files).
    bool injected(abi::Sys s);
    Cap* cap(uint64_t slot, abi::ObjType type);
    Object* object(uint64_t slot, abi::ObjType type);
    int64_t empty_slot(uint64_t slot);
    void remove_cap(uint64_t slot);
    int64_t delete_descendants(uint64_t slot);
    int64_t batch_frame_ok(uint64_t slot);
    // As the kernel's frame_free_for_use: not mapped, donated or split, no
    // children, not a copy (its parent is none or a split frame).
    bool free_for_use(const Cap& c) const;
    uint8_t* page(uint64_t pa);

    CapSpace caps_;
    uint64_t boot_leaves_ = 0;
    std::vector<int> leaf_obj_; // directory index -> the leaf's object (-1: none)
    std::vector<Object> objects_;
    std::map<uint64_t, TableFrame> tables_; // frame slot -> table
    std::map<uint64_t, std::unique_ptr<uint8_t[]>> memory_;
    std::vector<uint8_t> meta_;
    uint64_t first_free_ = 0;
};

FakeKernel& fake();

} // namespace fakek
