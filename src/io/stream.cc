#include "io/stream.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace sealift::io {

uint64_t copy(Source& src, Sink& dst, size_t chunk) {
  std::vector<std::byte> buf(chunk);
  uint64_t total = 0;
  for (;;) {
    size_t n = src.read(buf);
    if (n == 0) return total;
    dst.write(std::span<const std::byte>(buf.data(), n));
    total += n;
  }
}

size_t MemorySource::read(std::span<std::byte> buf) {
  size_t n = std::min(buf.size(), data_.size() - pos_);
  if (n) std::memcpy(buf.data(), data_.data() + pos_, n);
  pos_ += n;
  return n;
}

}  // namespace sealift::io
