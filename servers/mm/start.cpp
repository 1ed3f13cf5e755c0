// mm's start: it takes over what the kernel handed it at boot.
#include "archive.h"
#include "batch.h"
#include "errors.h"
#include "frames.h"
#include "kernel.h"
#include "mappings.h"
#include "pages.h"
#include "server.h"
#include "slots.h"

namespace capframe::mm {

uint64_t free_at_start() {
    return g_book.free_at_start;
}

Result<void> start() {
    const abi::BootInfo& b = kernel::boot_info();
    if (b.magic != abi::kBootInfoMagic) return Error::BadFormat;
    g_pt = ProcTable{};
    g_book.acct = Accounting{};
    for (Group& g : g_book.groups)
        g = Group{};
    g_book.reserved = g_book.fail_after = 0;
    g_book.fail_pid = g_book.serving_pid = 0;
    g_batch.detach();
    MetaLayout layout = meta_layout(b.window_frames);
    auto* meta = static_cast<uint8_t*>(kernel::view(abi::kFrameMetaVa));
    if (b.slot_book_bytes < SlotAllocator::book_bytes(b.cap_dir_entries) || !b.boot_leaves ||
        b.mm_captable_slots != b.cap_dir_entries * SlotAllocator::kLeafSlots)
        return Error::OutOfRange;
    g_slots.init(kernel::view(abi::kFrameMetaVa + b.meta_bytes), b.cap_dir_entries, b.boot_leaves,
                 b.first_free_slot);
    if (b.meta_bytes < layout.bytes || b.meta_zeroed_bytes < layout.zeroed_bytes ||
        !g_book.buddy
             .init(
                 b.window_base,
                 std::span(static_cast<FrameMeta*>(static_cast<void*>(meta + layout.buddy_offset)),
                           b.window_frames),
                 true) // zeroed by the kernel (BootInfo)
             .ok())
        return Error::OutOfRange;
    maps_init(meta, b.window_base, b.window_frames);

    for (uint64_t s = b.first_frame_slot; s < b.first_frame_slot + b.frame_slot_count; ++s) {
        if (s % SlotAllocator::kLeafSlots == 0) continue; // a leaf's header
        uint64_t pa = 0;
        int64_t info = kernel::cap_info(s, &pa);
        uint8_t order = static_cast<uint8_t>(info >> 16);
        if (info < 0 || !g_book.buddy.add_root(Block{static_cast<uint32_t>(s), pa, order}).ok())
            kernel::log("mm: frame capability %lu unusable\n", s);
    }
    if (auto r = archive_index(kernel::boot_archive()); !r.ok())
        kernel::log("mm: boot archive: %s (programs after that are left out)\n",
                    error_name(r.error()));
    uint64_t free = g_book.buddy.free_frames();
    kernel::log("mm: %lu free frames (%lu MiB) in %lu capabilities; %lu capability slots in %lu "
                "leaves, up to %lu leaves\n",
                free, free >> 8, b.frame_slot_count, g_slots.count(), g_slots.leaves(),
                g_slots.max_leaves());

    Block ep_block{};
    g_pt.endpoint = TRY(make_object(nullptr, abi::ObjType::Endpoint, 0, ep_block));
    // Warm both scratch windows once (their page tables stay), so that from
    // here "back where it started" is exact.
    if (auto w = alloc_frames(nullptr, Use::User, 0); w.ok()) {
        (void)window(w.value().slot, kScratchVa, true);
        unwindow(w.value().slot);
        (void)window(w.value().slot, kScratchSrcVa, true);
        unwindow(w.value().slot);
        free_frames(nullptr, Use::User, w.value());
    }
    // The batch page (held for good): before the count, so it is exact.
    if (!batch_start()) kernel::log("mm: no batch page: kernel calls go one at a time\n");
    g_book.buddy.hold(kHeldPages, kHeldMaxOrder);
    g_book.free_at_start = g_book.buddy.free_frames();
    return {};
}

} // namespace capframe::mm
