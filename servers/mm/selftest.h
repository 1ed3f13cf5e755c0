#pragma once
namespace capframe::mm {
void selftest(); // bootarg mmtest=1: TAP lines on the console
} // namespace capframe::mm
