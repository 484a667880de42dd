// The bundle's table of contents (bundle::parse_toc), JSON in a skippable frame. The first line
// gives the length of the tar stream it is checked against; without one, the length its entries
// imply. An accepted TOC encodes back to a TOC with the same entries.
#include <charconv>

#include "bundle/toc.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  // Not structured bindings: clang 14 cannot capture those in a lambda.
  auto [first, rest_] = fuzz::split_line(fuzz::text(data, size));
  std::string_view rest = rest_;
  uint64_t tar_size = 0;
  auto [end, ec] = std::from_chars(first.data(), first.data() + first.size(), tar_size);
  if (ec != std::errc() || end != first.data() + first.size()) return 0;
  fuzz::expect_clean_errors([&] {
    auto toc = bundle::parse_toc(rest, tar_size);
    auto again = bundle::parse_toc(bundle::encode_toc(toc), tar_size);
    fuzz::require(again.entries.size() == toc.entries.size(), "encode/parse lost entries");
    for (size_t i = 0; i < toc.entries.size(); ++i) {
      const auto &a = toc.entries[i], &b = again.entries[i];
      fuzz::require(a.name == b.name && a.header_offset == b.header_offset && a.data_offset == b.data_offset &&
                        a.size == b.size,
                    "encode/parse changed an entry");
      fuzz::require(a.end() <= tar_size && a.data_offset + a.size <= tar_size, "an entry ends past the tar stream");
    }
  });
  fuzz::expect_clean_errors([&] { bundle::check_entry_name(rest); });
  (void)bundle::printable_name(rest);
  return 0;
}
