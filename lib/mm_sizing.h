// The boot-time sizing of the memory server (kernel/boot_mm.cpp): the
// directory of mm's two-level capability space, the books mm keeps per
// leaf, and which frames its per-frame metadata covers. Pure arithmetic over
// the free RAM, so the host tests can size mm for boards QEMU cannot be
// (tests/host/boards_test.cpp).
#pragma once

#include <cstdint>

#include "ranges.h"

namespace capframe {

// mm's capability space grows at run time: mm retypes its own frames into
// one-page leaf tables (63 slots each) and attaches them in a directory the
// kernel allocates at boot. The directory is sized so that it is never what
// limits mm: kMmDirSlotsPerFrame slots per free frame (a buddy tree split
// down to pages holds 2 per frame, fork's shared pages a copy each), at
// least kMmDirMinEntries entries.
inline constexpr uint64_t kMmDirSlotsPerFrame = 4;
inline constexpr uint64_t kMmDirMinEntries = 512;
// What each directory entry costs: 8 bytes in the kernel's directory, and
// kMmLeafBookBytes in mm's books (its bitmap word and the slots of the
// leaf's frame and table capabilities), and a summary bit.
inline constexpr uint64_t kMmLeafBookBytes = 16;
// Slots mm has free at start beyond its boot capabilities (the leaves the
// kernel attaches at boot): enough for mm's start and its first growth.
inline constexpr uint64_t kMmBootSpareSlots = 256;

// Directory entries for `frames` free frames (a whole number of pages of
// 8-byte entries).
uint64_t mm_dir_entries(uint64_t frames);

struct MmSizing {
    uint64_t free_frames = 0;       // free RAM when mm is built
    uint64_t dir_entries = 0;       // leaves mm's space can have (the root is entry 0)
    uint64_t dir_bytes = 0;         // the kernel's directory: 8 bytes per entry
    uint64_t max_slots = 0;         // dir_entries * 63: capabilities the space can hold
    uint64_t slot_book_bytes = 0;   // mm's books per leaf, page-rounded
    uint64_t window_base = 0;       // the first free byte
    uint64_t window_frames = 0;     // window_base to the end of the last free range
    uint64_t meta_bytes = 0;        // window_frames * kMetaBytesPerFrame + slack, page-rounded
    uint64_t meta_zeroed_bytes = 0; // the part of it the kernel zeroes (the rest: records)
};

// Sizing from the free RAM left when mm is built (after the kernel's own
// page tables). An empty set gives a minimal directory and no window.
MmSizing mm_sizing(const RangeSet& free_ram);

} // namespace capframe
