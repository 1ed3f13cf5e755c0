// The device-tree fixtures (tests/fixtures/NAME.dts), compiled by the build
// into FIXTURE_DIR: read one whole, for the host tests that open them.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace fixture {

using Bytes = std::vector<uint8_t>;

// FIXTURE_DIR/NAME.dtb; empty (and a test failure) if it cannot be read.
inline Bytes load(const char* name) {
    std::string path = std::string(FIXTURE_DIR) + "/" + name + ".dtb";
    Bytes b;
    if (FILE* f = std::fopen(path.c_str(), "rb")) {
        uint8_t buf[4096];
        for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
            b.insert(b.end(), buf, buf + n);
        std::fclose(f);
    }
    EXPECT_FALSE(b.empty()) << "cannot read " << path;
    return b;
}

} // namespace fixture
