// The boot-time sizing of the memory server (kernel/boot_mm.cpp): how big
// mm's capability table is, which frames its per-frame metadata covers, and
// how many frames that table can serve. Pure arithmetic over the free RAM,
// so the host tests can size mm for boards QEMU cannot be (tests/host/boards_test.cpp).
#pragma once

#include <cstdint>

#include "ranges.h"

namespace capframe {

// mm's capability table is 2^order pages of kCapSlotsPerPage slots,
// order between these two (4096 and 262144 slots).
inline constexpr uint8_t kMmTableMinOrder = 6;
inline constexpr uint8_t kMmTableMaxOrder = 12;

// A buddy tree split down to single frames holds 2N - 1 capabilities (the
// parents stay), and fork's shared pages take a copy each: 2.25 slots per
// frame, i.e. 9 slots per 4 frames. (1.25 ran out under the exhaustion soak
// on 48 MiB.)
inline constexpr uint64_t kMmSlotsPer4Frames = 9;

// The smallest order whose table has at least 2 * frames + frames / 4 slots,
// clamped to [kMmTableMinOrder, kMmTableMaxOrder].
uint8_t mm_table_order(uint64_t frames);

// How many frames a table of `slots` slots can serve at 2.25 slots per frame
// (floor(slots * 4 / 9)): beyond that, splitting frames down to pages runs
// the table out of slots.
uint64_t mm_table_frames_served(uint64_t slots);

struct MmSizing {
    uint64_t free_frames = 0;   // free RAM when mm is built
    uint8_t table_order = 0;    // mm's capability table: 2^order pages
    uint64_t table_slots = 0;   // kCapSlotsPerPage << table_order
    uint64_t frames_served = 0; // mm_table_frames_served(table_slots)
    uint64_t window_base = 0;   // the first free byte
    uint64_t window_frames = 0; // window_base to the end of the last free range
    uint64_t meta_bytes = 0;    // window_frames * kMetaBytesPerFrame, page-rounded
};

// Sizing from the free RAM left when mm is built (after the kernel's own
// page tables). An empty set gives all zeros but the minimum order.
MmSizing mm_sizing(const RangeSet& free_ram);

} // namespace capframe
