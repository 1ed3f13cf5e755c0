// Host tests for discover_machine(), continued from machine_test.cpp: trees it
// cannot use (BadFormat with a message naming the problem), and a fixed-seed
// mutation loop over real blobs that must never crash or hang.
#include "machine_test.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "machine.h"

using namespace capframe;
using namespace machine_test;

// ---- unusable trees: BadFormat with a message naming the problem ----

static void expect_error(const Bytes& b, Error e, const char* says) {
    auto d = discover(b);
    ASSERT_FALSE(d->result.ok()) << says;
    EXPECT_EQ(d->result.error(), e) << d->why;
    EXPECT_NE(d->why.find(says), std::string::npos) << d->why;
}

TEST(MachineErrors, NoCpus) {
    Bytes b = load("virt-smp1");
    replace_cstr(b, 0, "cpus", "cpuX"); // the node name (first "cpus\0" in the blob)
    expect_error(b, Error::BadFormat, "no /cpus node");
}

TEST(MachineErrors, NoMemory) {
    Bytes b = load("virt-smp1");
    replace_cstr(b, value_offset(b, "/memory", "device_type"), "memory", "memorX");
    expect_error(b, Error::BadFormat, "no memory node");
}

TEST(MachineErrors, TimebaseZeroOrMissing) {
    Bytes b = load("virt-smp2");
    const uint8_t zero[4] = {};
    Bytes z = b;
    patch(z, value_offset(z, "/cpus", "timebase-frequency"), zero, 4);
    expect_error(z, Error::BadFormat, "timebase-frequency is 0");
    Bytes missing = b;
    replace_cstr(missing, strings_offset(missing), "timebase-frequency", "timebase-frequencX");
    expect_error(missing, Error::BadFormat, "no timebase-frequency");
}

TEST(MachineErrors, BadMemoryReg) {
    Bytes b = load("virt-smp1");
    const uint8_t three[4] = {0, 0, 0, 3};
    patch(b, value_offset(b, "/", "#size-cells"), three, 4);
    expect_error(b, Error::BadFormat, "memory@80000000: reg does not match");
}

TEST(MachineErrors, NotOpened) {
    MachineInfo m;
    char why[64];
    auto r = discover_machine(Fdt{}, m, why, sizeof why);
    EXPECT_EQ(r.error(), Error::InvalidArgument);
    EXPECT_STRNE(why, "");
}

// ---- robustness: random damage must never crash or hang ----

static void mutate_and_discover(const char* fixture, int rounds, uint32_t seed) {
    const Bytes orig = load(fixture);
    std::mt19937 rng(seed);
    // Where the property values are: damage there keeps the structure valid
    // and tests discovery itself on nonsense cells, phandles and strings.
    std::vector<std::pair<size_t, size_t>> values;
    {
        char why[160];
        auto f = Fdt::open(orig.data(), orig.size(), why, sizeof why);
        ASSERT_TRUE(f.ok()) << why;
        const Fdt& t = f.value();
        for (FdtNode n = t.root(); n.valid(); n = t.next_node(n))
            for (size_t i = 0; t.property_at(n, i).ok(); ++i) {
                auto v = t.property_at(n, i).value().value;
                if (!v.empty()) values.push_back({size_t(v.data() - orig.data()), v.size()});
            }
    }
    int opened = 0, discovered = 0;
    auto m = std::make_unique<MachineInfo>();
    for (int round = 0; round < rounds; ++round) {
        Bytes b = orig;
        int kind = rng() % 6;
        if (kind == 0) { // flip a few bits anywhere
            for (int k = 1 + rng() % 4; k > 0; --k)
                b[rng() % b.size()] ^= 1u << (rng() % 8);
        } else if (kind == 1) { // random bytes in the structure block
            size_t lo = strings_offset(orig) > 0x38 ? 0x38 : 0;
            size_t hi = strings_offset(orig);
            for (int k = 1 + rng() % 3; k > 0; --k)
                b[lo + rng() % (hi - lo)] = uint8_t(rng());
        } else if (kind == 2) { // a header word replaced
            size_t word = 4 * (rng() % 10);
            uint32_t v = (rng() % 2) ? uint32_t(rng()) : uint32_t(rng() % (b.size() + 64));
            for (int i = 0; i < 4; ++i)
                b[word + i] = uint8_t(v >> (24 - 8 * i));
        } else if (kind == 3) { // truncated
            b.resize(rng() % b.size());
        } else { // property values: random bytes or small numbers
            for (int k = 1 + rng() % 3; k > 0; --k) {
                auto [off, len] = values[rng() % values.size()];
                if (len >= 4 && rng() % 2) {
                    size_t at = off + 4 * (rng() % (len / 4));
                    uint32_t v = rng() % 2 ? rng() % 4 : 0xffffffff - rng() % 2;
                    for (int i = 0; i < 4; ++i)
                        b[at + i] = uint8_t(v >> (24 - 8 * i));
                } else {
                    b[off + rng() % len] = uint8_t(rng());
                }
            }
        }
        std::unique_ptr<uint8_t[]> mem(new uint8_t[b.size() ? b.size() : 1]);
        if (!b.empty()) std::memcpy(mem.get(), b.data(), b.size());
        char why[160];
        auto f = Fdt::open(mem.get(), b.size(), why, sizeof why);
        if (!f.ok()) {
            ASSERT_NE(why[0], '\0') << "round " << round;
            continue;
        }
        ++opened;
        // Walk everything the API offers.
        const Fdt& t = f.value();
        for (FdtNode n = t.root(); n.valid(); n = t.next_node(n)) {
            (void)t.name(n);
            (void)t.parent(n);
            (void)t.reg(n);
            (void)t.is_okay(n);
        }
        (void)t.find_node("serial0");
        (void)t.find_phandle(5);
        if (discover_machine(t, *m, why, sizeof why).ok()) {
            ++discovered;
            check_mmio_invariants(*m);
        } else {
            ASSERT_NE(why[0], '\0') << "round " << round;
        }
    }
    if (getenv("SHOW_WHY"))
        printf("%s: %d/%d opened, %d discovered\n", fixture, opened, rounds, discovered);
    // Sanity: the loop exercised both outcomes.
    EXPECT_GT(opened, rounds / 10);
    EXPECT_GT(discovered, 0);
    EXPECT_LT(discovered, rounds);
}

TEST(MachineFuzz, VirtMutations) {
    mutate_and_discover("virt-opensbi", 4000, 20240601);
}
TEST(MachineFuzz, VisionFive2Mutations) {
    mutate_and_discover("jh7110-visionfive2", 1500, 7);
}
