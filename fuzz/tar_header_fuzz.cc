// The tar header(s) in front of a bundle entry (bundle::check_tar_header, libarchive underneath).
// The first line names the entry the TOC claims ("name size"); the rest is the header bytes.
#include <charconv>
#include <span>

#include "bundle/tar_header.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  auto [first, rest] = fuzz::split_line(fuzz::text(data, size));
  size_t space = first.rfind(' ');
  if (space == std::string_view::npos) return 0;
  bundle::TocEntry entry;
  entry.name = std::string(first.substr(0, space));
  auto digits = first.substr(space + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), entry.size);
  if (ec != std::errc() || end != digits.data() + digits.size()) return 0;
  entry.data_offset = rest.size();
  std::span<const std::byte> header(reinterpret_cast<const std::byte*>(rest.data()), rest.size());
  fuzz::expect_clean_errors([&] { bundle::check_tar_header(header, entry); });
  return 0;
}
