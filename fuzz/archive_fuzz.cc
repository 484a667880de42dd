// The bundle archive reader (bundle::ArchiveReader) on a whole file: seek table footer and table,
// the TOC frame, every entry's tar header, zstd frames and padding, read to the end, and the
// end-of-archive marker. Memory stays bounded whatever sizes the file declares (scripts/fuzz.sh
// runs it with -rss_limit_mb).
#include <memory>
#include <vector>

#include "bundle/archive_reader.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  auto path = fuzz::write_scratch("bundle.tar.zst", fuzz::text(data, size));
  fuzz::expect_clean_errors([&] {
    bundle::ArchiveReader reader(path);
    fuzz::require(reader.tar_size() >= bundle::kTarEndSize, "tar stream shorter than its end marker");
    std::vector<std::byte> buf(64 << 10);
    for (const auto& e : reader.entries()) {
      fuzz::require(reader.find(e.name) == &e, "find() misses an entry");
      fuzz::expect_clean_errors([&] {
        auto src = reader.open(e.name);
        uint64_t total = 0;
        while (size_t n = src->read(buf)) total += n;
        fuzz::require(total == e.size, "an entry read to a size other than the TOC's");
      });
      fuzz::expect_clean_errors([&] { (void)reader.read_small(e.name, 1 << 20); });
      fuzz::expect_clean_errors([&] {
        auto src = reader.open_at(e.name, e.size / 2);
        while (src->read(buf) != 0) {
        }
      });
    }
    fuzz::expect_clean_errors([&] { reader.check_end_of_archive(); });
  });
  return 0;
}
