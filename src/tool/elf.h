// The platform an executable runs on, read from its ELF header, so that a bundle records which
// hosts can run a tool it carries, and the installer never runs one built for another machine.
#pragma once

#include <filesystem>
#include <string>

namespace sealift::tool {

// "linux/amd64" (x86-64) or "linux/arm64" (AArch64) for a 64-bit little-endian ELF executable of
// those machines; throws Error(Input) naming the file for anything else (a script, a 32-bit or
// big-endian binary, a shared library, another operating system's ABI) or when it cannot be read.
std::string elf_platform(const std::filesystem::path& file);

// This host's platform in the same form ("linux/amd64").
std::string host_platform();

}  // namespace sealift::tool
