#include "bootargs.h"

#include <gtest/gtest.h>

using capframe::find_bootarg;

TEST(Bootargs, FindsWordsAndValues) {
    char v[16];
    ASSERT_TRUE(find_bootarg("init=hello vmprint=off", "init", v, sizeof v));
    EXPECT_STREQ(v, "hello");
    ASSERT_TRUE(find_bootarg("init=hello  vmprint=off", "vmprint", v, sizeof v));
    EXPECT_STREQ(v, "off");
    ASSERT_TRUE(find_bootarg("x=", "x", v, sizeof v));
    EXPECT_STREQ(v, "");
}

TEST(Bootargs, NeedsTheWholeKey) {
    char v[16] = "unchanged";
    EXPECT_FALSE(find_bootarg("xinit=a", "init", v, sizeof v));
    EXPECT_FALSE(find_bootarg("initrd=a", "init", v, sizeof v));
    EXPECT_FALSE(find_bootarg("init", "init", v, sizeof v));
    EXPECT_FALSE(find_bootarg("", "init", v, sizeof v));
    EXPECT_FALSE(find_bootarg(nullptr, "init", v, sizeof v));
    EXPECT_STREQ(v, "unchanged");
}

TEST(Bootargs, TruncatesLongValues) {
    char v[4];
    ASSERT_TRUE(find_bootarg("init=abcdefgh", "init", v, sizeof v));
    EXPECT_STREQ(v, "abc");
    EXPECT_FALSE(find_bootarg("init=a", "init", v, 0));
}
