#include "tool/elf.h"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>

#include <fmt/format.h>

#include "util/error.h"

namespace sealift::tool {

namespace {

// ELF identification and the header fields after it (System V ABI, "ELF Header").
constexpr size_t kHeaderSize = 64;  // of a 64-bit ELF file
constexpr unsigned char kClass64 = 2;
constexpr unsigned char kLittleEndian = 1;
constexpr unsigned char kAbiSystemV = 0;  // what Go and most toolchains write for Linux
constexpr unsigned char kAbiLinux = 3;
constexpr uint16_t kTypeExecutable = 2;
constexpr uint16_t kTypeSharedObject = 3;  // also position-independent executables
constexpr uint16_t kMachineX86_64 = 62;
constexpr uint16_t kMachineAArch64 = 183;

[[noreturn]] void refuse(const std::filesystem::path& file, const std::string& why) {
  throw Error(ErrorKind::Input, fmt::format("{}: {}", file.string(), why),
              "give the helm binary itself (a 64-bit Linux executable for amd64 or arm64), not a wrapper script");
}

// The platform of the ELF header `h` (`got` bytes of it read), or "" with the reason in `why`.
std::string platform_of(const unsigned char* h, size_t got, std::string& why) {
  if (got < 4 || h[0] != 0x7f || h[1] != 'E' || h[2] != 'L' || h[3] != 'F') {
    why = "not an ELF executable";
  } else if (got < kHeaderSize) {
    why = "too short to be an ELF executable";
  } else if (h[4] != kClass64 || h[5] != kLittleEndian) {
    why = "not a 64-bit little-endian ELF executable";
  } else if (h[7] != kAbiSystemV && h[7] != kAbiLinux) {
    why = fmt::format("not a Linux executable (ELF OS ABI {})", h[7]);
  } else {
    auto le16 = [&](size_t at) { return static_cast<uint16_t>(h[at] | (h[at + 1] << 8)); };
    uint16_t type = le16(16);
    if (type != kTypeExecutable && type != kTypeSharedObject) {
      why = fmt::format("not an ELF executable (ELF type {})", type);
    } else if (le16(18) == kMachineX86_64) {
      return "linux/amd64";
    } else if (le16(18) == kMachineAArch64) {
      return "linux/arm64";
    } else {
      why = fmt::format("an ELF executable for machine {}, neither x86-64 nor AArch64", le16(18));
    }
  }
  return {};
}

}  // namespace

std::string elf_platform(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) refuse(file, "no such file");
  if (!std::filesystem::is_regular_file(file, ec)) refuse(file, "not a regular file");
  std::array<unsigned char, kHeaderSize> h{};
  // open(2) rather than std::ifstream, whose descriptor is not close-on-exec.
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) refuse(file, "cannot be read");
  size_t got = 0;
  while (got < h.size()) {
    ssize_t n = ::read(fd, h.data() + got, h.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  std::string why;
  std::string platform = platform_of(h.data(), got, why);
  if (platform.empty()) refuse(file, why);
  return platform;
}

std::string elf_platform_of(std::string_view header, const std::string& what) {
  std::string why;
  std::string platform = platform_of(reinterpret_cast<const unsigned char*>(header.data()), header.size(), why);
  if (platform.empty()) throw Error(ErrorKind::Input, fmt::format("{}: {}", what, why));
  return platform;
}

std::string host_platform() {
  utsname u{};
  uname(&u);
  std::string machine = u.machine;
  if (machine == "x86_64") return "linux/amd64";
  if (machine == "aarch64" || machine == "arm64") return "linux/arm64";
  return "linux/" + machine;
}

}  // namespace sealift::tool
