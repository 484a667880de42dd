// The zstd seekable format's seek table (bundle::parse_seek_table_footer, parse_seek_table): the
// input is the end of a file; the footer is its last 9 bytes and the table as long as the footer
// says. A parsed table re-encodes to the same bytes when it carries checksums.
#include <span>

#include "bundle/seekable_format.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
  if (size < bundle::kSeekTableFooterSize) return 0;
  fuzz::expect_clean_errors([&] {
    auto footer = bundle::parse_seek_table_footer(file.last(bundle::kSeekTableFooterSize), size);
    fuzz::require(footer.table_size <= size, "table larger than the file");
    auto table = file.last(footer.table_size);
    auto entries = bundle::parse_seek_table(table, footer);
    fuzz::require(entries.size() == footer.frames, "frame count");
    if (footer.checksums && static_cast<uint8_t>(table[table.size() - 5]) == 0x80) {
      std::string encoded = bundle::encode_seek_table(entries);
      fuzz::require(encoded.size() == table.size() && std::memcmp(encoded.data(), table.data(), table.size()) == 0,
                    "re-encoded seek table differs");
    }
  });
  return 0;
}
