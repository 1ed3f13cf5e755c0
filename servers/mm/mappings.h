// Frame records and the mapping index. For every frame of the window mm
// keeps a FrameInfo (its capability, its owner, how many processes map it and
// the list of those mappings); for every page mapped in a process a Mapping,
// found by (process, va) through a hash index, listed per process (teardown,
// fork) and per frame (copy-on-write, revoke). Page-table frames are listed
// per process through their FrameInfo.
//
// All of it lives in the metadata region the kernel gave mm
// (abi::kMetaBytesPerFrame bytes per window frame, the records' part not
// zeroed); meta_layout() places it and says whether it fits.
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
// Recorded, not yet in the kernel (slot 0): fork shares a large heap by
// records alone, and the child's first touch of the page makes the mapping
// (materialize in pages.cpp). Always copy-on-write or read-only (made with
// kMapReserved: a sharer's copy can take that unit); each one keeps a
// capability slot free for its mapping
// (FrameBook::lazy counts them into the slots every promise needs).
inline constexpr uint64_t kMapLazy = 1 << 11;
inline constexpr uint64_t kMapFlags = kMapW | kMapX | kMapCow | kMapReserved | kMapLazy;
static_assert(kMaxProcs < kKeyProcMask + 1, "process slots must fit the key");

inline uint64_t va_of(const Mapping& m) {
    return m.key & ~(kMapFlags | kKeyProcMask);
}
inline uint64_t flags_of(const Mapping& m) {
    return m.key & kMapFlags;
}
inline bool is_lazy(const Mapping& m) {
    return (m.key & kMapLazy) != 0;
}

// Where each part of the metadata region goes, for a window of `frames`.
struct MetaLayout {
    uint64_t buddy_offset, frames_offset, buckets_offset, maps_offset, bytes;
    uint64_t zeroed_bytes; // what must read zero at start: all but the records
    uint64_t map_count, bucket_count;
};
constexpr MetaLayout meta_layout(uint64_t frames) {
    MetaLayout l{};
    l.buddy_offset = 0;
    l.frames_offset = frames * sizeof(FrameMeta);
    l.buckets_offset = l.frames_offset + frames * sizeof(FrameInfo);
    // Chains of four records on average if every frame were mapped (they
    // cannot all be: mm's books and page tables are not), one bucket per four
    // frames: a byte per frame of the window.
    l.bucket_count = 1;
    while (l.bucket_count * 8 <= frames)
        l.bucket_count *= 2;
    l.zeroed_bytes = l.buckets_offset + l.bucket_count * sizeof(uint32_t);
    // A mapping is a page mapped in a process: its own frame, or a shared
    // frame's extra mapping backed by a frame the sharer holds in reserve
    // (kMapReserved), so there are never more than frames (and never as
    // many: mm's books are frames of the window no process maps). Entry 0
    // is unused. Last, because nothing needs them zeroed: they are taken
    // from a high-water mark (MapBook::map_next), the kernel does not clear
    // them at boot (half of what it cleared before).
    l.maps_offset = (l.zeroed_bytes + 7) & ~uint64_t{7};
    l.map_count = frames + 1;
    l.bytes = l.maps_offset + l.map_count * sizeof(Mapping);
    return l;
}
// The layout fits the kernel's sizing (lib/mm_sizing.cpp) at every window
// size: 16 + 12 + at most 1 for buckets zeroed, 32 for records, and the slack
// (record 0, a bucket's rounding, alignment).
static_assert(sizeof(FrameMeta) + sizeof(FrameInfo) + sizeof(uint32_t) / 4 ==
              abi::kMetaZeroedBytesPerFrame);
static_assert(sizeof(Mapping) == abi::kMetaRecordBytesPerFrame);
constexpr bool meta_layout_fits(uint64_t frames) {
    MetaLayout l = meta_layout(frames);
    return l.zeroed_bytes <= frames * abi::kMetaZeroedBytesPerFrame + abi::kMetaSlackBytes &&
           l.bytes <= frames * abi::kMetaBytesPerFrame + abi::kMetaSlackBytes;
}
static_assert(meta_layout_fits(1) && meta_layout_fits(2) && meta_layout_fits(3) &&
              meta_layout_fits(4097) && meta_layout_fits(uint64_t{1} << 22));

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
void remove_mapping(uint32_t i, bool cap_gone = false, bool units_later = false,
                    bool slot_later = false);
// remove_mapping with its kernel call riding the answer to the request
// (Batch::ride; the capability copy's slot is freed once it ran, a merge of
// the frame rides after it); the caller answers next.
void remove_mapping_riding(uint32_t i);
// remove_mapping for n mappings, the kernel's part in batches.
void remove_mappings(const uint32_t* list, uint64_t n, bool units_later = false);
// Moves every mapping, page table and charge of `from` to `to`.
void rekey(Proc* from, Proc* to);

// A process's page-table frames.
void push_table(Proc* p, Block t);
Block pop_table(Proc* p);

} // namespace capframe::mm
