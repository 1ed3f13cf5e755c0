// The slots of mm's own capability space: which are free, and the leaves
// the space is made of. Pure logic; frames.cpp grows and shrinks the space.
//
// The space is two-level (docs/memory-server.md): slot s is offset s % 64 of
// leaf s / 64, and offset 0 of every leaf is its header (never a slot). One
// 64-bit word of the bitmap per leaf, so a leaf is one word with bit 0 set.
// Leaves [0, boot_leaves) came with the boot; mm attaches more at the top
// (index leaves()) and detaches only the top one, so its leaves are a stack.
// Allocation is first-fit (the lowest free slot, found through a summary
// bit per leaf "no free slot"), so that the top leaves empty first and can
// be given back.
#pragma once

#include <cstdint>
#include <span>

#include "result.h"

namespace capframe::mm {

class SlotAllocator {
  public:
    static constexpr uint64_t kLeafSlots = 64; // one page of 64-byte slots
    // What mm keeps per leaf it attached itself: the capability of the
    // frame it gave and the CapTable capability retype made of it.
    struct Leaf {
        uint32_t frame_slot, table_slot;
    };

    // Bytes of books for `leaves` directory entries (book_bytes of them at
    // `books`: the bitmap, the Leaf records, the summary).
    static constexpr uint64_t book_bytes(uint64_t leaves) {
        return leaves * (sizeof(uint64_t) + sizeof(Leaf)) + (leaves + 63) / 64 * sizeof(uint64_t);
    }
    // Books for `max_leaves` directory entries; leaves [0, boot_leaves) are
    // attached; slots [0, first_free) are taken (the kernel's boot capabilities).
    void init(void* books, uint64_t max_leaves, uint64_t boot_leaves, uint64_t first_free);
    Result<uint32_t> alloc();
    void free(uint32_t i);
    uint64_t count() const { return leaves_ * (kLeafSlots - 1); } // slots in attached leaves
    uint64_t used() const { return used_; }
    uint64_t free_slots() const { return count() - used_; }
    bool is_used(uint64_t i) const {
        return i / kLeafSlots < leaves_ && (words_[i / kLeafSlots] >> (i % kLeafSlots)) & 1;
    }

    uint64_t leaves() const { return leaves_; }
    uint64_t boot_leaves() const { return boot_leaves_; }
    uint64_t max_leaves() const { return words_.size(); }
    uint64_t grown() const { return leaves_ - boot_leaves_; } // leaves mm attached
    // A new leaf at index leaves() (the caller attached it there).
    void push_leaf(Leaf l);
    // The top leaf, if mm attached it and none of its slots is in use.
    bool top_leaf_empty() const;
    Leaf top_leaf() const { return books_[leaves_ - 1]; }
    void pop_leaf(); // after the caller detached it

  private:
    void set_full(uint64_t w, bool full);

    std::span<uint64_t> words_;
    std::span<Leaf> books_;
    std::span<uint64_t> summary_; // bit w: leaf w has no free slot (or is not attached)
    uint64_t leaves_ = 0, boot_leaves_ = 0, hint_ = 0, used_ = 0; // hint_: a summary word
};

extern SlotAllocator g_slots;

} // namespace capframe::mm
