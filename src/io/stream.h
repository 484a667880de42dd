// Small source/sink interfaces that content flows through. A blob is read once per use and hashed
// on the way; nothing here holds a whole blob in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace sealift::io {

// Produces bytes. read() returns 0 at the end; it throws sealift::Error on failure.
class Source {
 public:
  virtual ~Source() = default;
  virtual size_t read(std::span<std::byte> buf) = 0;
};

// Consumes bytes. write() takes all of buf or throws.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void write(std::span<const std::byte> buf) = 0;
};

// Copies everything from src to dst; returns the number of bytes moved.
uint64_t copy(Source& src, Sink& dst, size_t chunk = 1 << 20);

// A source over bytes held by the caller.
class MemorySource : public Source {
 public:
  explicit MemorySource(std::span<const std::byte> data) : data_(data) {}
  explicit MemorySource(const std::string& s)
      : data_(reinterpret_cast<const std::byte*>(s.data()), s.size()) {}
  size_t read(std::span<std::byte> buf) override;

 private:
  std::span<const std::byte> data_;
  size_t pos_ = 0;
};

// A sink that appends to a string (for manifests and other small documents only).
class StringSink : public Sink {
 public:
  void write(std::span<const std::byte> buf) override {
    out.append(reinterpret_cast<const char*>(buf.data()), buf.size());
  }
  std::string out;
};

}  // namespace sealift::io
