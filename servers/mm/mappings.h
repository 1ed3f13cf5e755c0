// Frame records and the mapping index. For every frame of the window mm
// keeps a FrameInfo (its capability, its owner, how many processes map it and
// the list of those mappings); for every page mapped in a process a Mapping,
// found by (process, va) through a hash index, listed per process (teardown,
// fork) and per frame (copy-on-write, revoke). Page-table frames are listed
// per process through their FrameInfo.
//
// All of it lives in the metadata region the kernel gave mm
// (abi::kMetaBytesPerFrame zeroed bytes per window frame); meta_layout()
// places it and says whether it fits.
#pragma once

#include <cstdint>

#include "buddy.h"
#include "proc.h"

namespace capframe::mm {

struct FrameInfo {
    uint32_t block_slot; // the frame's own capability (from the allocator)
    uint16_t refs;       // mappings of it
    uint16_t owner;      // process slot + 1 charged for it
    uint32_t rmap;       // first mapping of it (Mapping index); the table list for tables
};
static_assert(sizeof(FrameInfo) == 12);

// One page mapped in one process. The key packs the page address with the
// process slot (bits 0..6) and flags.
struct Mapping {
    uint64_t key;
    uint32_t frame; // frame index in the window
    uint32_t slot;  // the capability that made the mapping
    uint32_t hnext; // hash chain / free list
    uint32_t pnext, pprev;
    uint32_t rnext; // next mapping of the same frame
};
static_assert(sizeof(Mapping) == 32);
inline constexpr uint64_t kKeyProcMask = 0x7f;
inline constexpr uint64_t kMapW = 1 << 7;   // the process may write it (the region is writable)
inline constexpr uint64_t kMapX = 1 << 8;   // executable
inline constexpr uint64_t kMapCow = 1 << 9; // mapped read-only until the next write fault
// The process holds one frame in reserve (Proc::cow_reserved) for this
// extra mapping of a shared frame: a frame mapped M times has exactly M - 1
// of its mappings marked. A copy-on-write fault takes its copy out of one,
// and every mapping record and capability copy of a sharer is backed by a
// frame, so no shared page can make mm's books run out before memory does.
inline constexpr uint64_t kMapReserved = 1 << 10;
inline constexpr uint64_t kMapFlags = kMapW | kMapX | kMapCow | kMapReserved;
static_assert(kMaxProcs < kKeyProcMask + 1, "process slots must fit the key");

inline uint64_t va_of(const Mapping& m) {
    return m.key & ~(kMapFlags | kKeyProcMask);
}
inline uint64_t flags_of(const Mapping& m) {
    return m.key & kMapFlags;
}

// Where each part of the metadata region goes, for a window of `frames`.
struct MetaLayout {
    uint64_t buddy_offset, frames_offset, maps_offset, buckets_offset, bytes;
    uint64_t map_count, bucket_count;
};
constexpr MetaLayout meta_layout(uint64_t frames) {
    MetaLayout l{};
    l.buddy_offset = 0;
    l.frames_offset = frames * sizeof(FrameMeta);
    l.maps_offset = l.frames_offset + frames * sizeof(FrameInfo);
    // A mapping is a page mapped in a process: its own frame, or a shared
    // frame's extra mapping backed by a frame the sharer holds in reserve
    // (kMapReserved), so there are never more than frames; 1/32 spare.
    l.map_count = frames + frames / 32; // entry 0 unused
    l.buckets_offset = l.maps_offset + l.map_count * sizeof(Mapping);
    l.bucket_count = 1;
    while (l.bucket_count * 2 <= frames)
        l.bucket_count *= 2;
    l.bytes = l.buckets_offset + l.bucket_count * sizeof(uint32_t);
    return l;
}
// The layout fits the budget at every window size (buckets: at most one per
// frame, 4 bytes): 16 + 12 + 33 + 4 = 65 of 68 bytes.
static_assert(sizeof(FrameMeta) + sizeof(FrameInfo) + sizeof(Mapping) * 33 / 32 + 4 <=
              abi::kMetaBytesPerFrame);
static_assert(meta_layout(1).bytes <= abi::kMetaBytesPerFrame);
static_assert(meta_layout(4096).bytes <= 4096 * abi::kMetaBytesPerFrame);

struct MapBook {
    FrameInfo* frames = nullptr;
    Mapping* maps = nullptr; // entry 0 unused
    uint32_t* buckets = nullptr;
    uint64_t map_count = 0, bucket_mask = 0, window_frames = 0, window_base = 0;
    uint32_t map_free = kNone; // records given back, linked through hnext
    uint64_t map_next = 1;     // records from here on were never used
    uint64_t maps_in_use = 0;
};
extern MapBook g_maps;

// Places the books in `meta` (zeroed, layout.bytes long) for the window.
void maps_init(void* meta, uint64_t window_base, uint64_t window_frames);

inline uint64_t frame_index(uint64_t pa) {
    return (pa - g_maps.window_base) / kPage;
}
inline uint64_t frame_pa(uint64_t idx) {
    return g_maps.window_base + idx * kPage;
}
inline Mapping& mapping(uint32_t i) {
    return g_maps.maps[i];
}
inline FrameInfo& frame_info(uint64_t idx) {
    return g_maps.frames[idx];
}
inline Proc* proc_of(const Mapping& m) {
    return &g_pt.procs[m.key & kKeyProcMask];
}

uint32_t find_mapping(const Proc* p, uint64_t va); // kNone if none
// Records that p maps frame (index) at va through capability slot.
Result<uint32_t> record_mapping(Proc* p, uint64_t va, uint64_t flags, uint64_t frame,
                                uint32_t slot);
// Removes mapping i (the kernel mapping too, unless the capability that made
// it is already gone); the frame goes back with its last mapping.
// units_later: a reserved unit of this mapping stays with the process (the
// caller gives all of them back at once: drop_image).
void remove_mapping(uint32_t i, bool cap_gone = false, bool units_later = false);
// remove_mapping for n mappings, the kernel's part in batches.
void remove_mappings(const uint32_t* list, uint64_t n, bool units_later = false);
// Moves every mapping, page table and charge of `from` to `to`.
void rekey(Proc* from, Proc* to);

// A process's page-table frames.
void push_table(Proc* p, Block t);
Block pop_table(Proc* p);

} // namespace capframe::mm
