// The platform an executable runs on, read from its ELF header, so that a bundle records which
// hosts can run a tool it carries, and the installer never runs one built for another machine.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace sealift::tool {

// "linux/amd64" (x86-64) or "linux/arm64" (AArch64) for a 64-bit little-endian ELF executable of
// those machines; throws Error(Input) naming the file for anything else (a script, a 32-bit or
// big-endian binary, a shared library, another operating system's ABI) or when it cannot be read.
std::string elf_platform(const std::filesystem::path& file);
// The same from the first bytes of an executable that is not a file here (an entry of a tarball):
// `header` holds at least its first 64 bytes when it has them; `what` names it in errors.
std::string elf_platform_of(std::string_view header, const std::string& what);

// This host's platform in the same form ("linux/amd64").
std::string host_platform();

}  // namespace sealift::tool
