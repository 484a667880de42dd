#include "install/bundle_content.h"

#include <cstring>

#include <fmt/format.h>

#include "bundle/layout.h"
#include "util/error.h"

namespace sealift::install {

namespace {

// Hashes an entry from its start and checks the digest before handing over the last byte. Opened
// at an offset (a resumed upload), it hashes the bytes before the offset first.
class CheckedBlobSource : public io::Source {
 public:
  CheckedBlobSource(std::unique_ptr<bundle::EntrySource> entry, const oci::Descriptor& blob, std::string entry_name,
                    const std::string& owner, uint64_t offset, std::string bundle_name)
      : entry_(std::move(entry)),
        expected_(blob.digest),
        name_(std::move(entry_name)),
        owner_(owner),
        bundle_name_(std::move(bundle_name)) {
    while (offset > 0) {
      std::span<const std::byte> part = entry_->next(offset);
      if (part.empty()) break;
      hash_.update(part);
      offset -= part.size();
    }
    if (entry_->remaining() == 0) check();
  }

  size_t read(std::span<std::byte> buf) override {
    std::span<const std::byte> part = entry_->next(buf.size());
    if (part.empty()) return 0;
    hash_.update(part);
    if (entry_->remaining() == 0) check();
    std::memcpy(buf.data(), part.data(), part.size());
    return part.size();
  }

 private:
  void check() {
    oci::Digest got = hash_.finish();
    if (got != expected_)
      throw Error(ErrorKind::Integrity,
                  fmt::format("{}: entry {} ({}) has digest {}: its content was altered; nothing that uses it was pushed",
                              bundle_name_, name_, owner_, got.str()),
                  "the bundle was altered or damaged on the way; do not use it, get a new copy from the vendor");
  }

  std::unique_ptr<bundle::EntrySource> entry_;
  oci::Sha256 hash_;
  oci::Digest expected_;
  std::string name_;
  const std::string& owner_;
  std::string bundle_name_;
};

}  // namespace

std::string BundleContent::manifest_bytes(const oci::Descriptor& d) {
  std::string bytes = reader_.read_small(bundle::blob_path(d.digest));
  if (oci::Digest::of(bytes) != d.digest || static_cast<int64_t>(bytes.size()) != d.size)
    throw Error(ErrorKind::Integrity,
                fmt::format("{}: manifest {} changed since the bundle was verified", reader_.file().name().string(),
                            d.digest.str()),
                "something is writing to the bundle; copy it again and re-run");
  return bytes;
}

std::unique_ptr<io::Source> BundleContent::open_blob(const oci::Descriptor& d, uint64_t offset) {
  std::string path = bundle::blob_path(d.digest);
  if (!reader_.find(path))
    throw Error(ErrorKind::Input,
                fmt::format("blob {} is not in {}: the bundle leaves it out because its base bundle carries it",
                            d.digest.str(), reader_.file().name().string()),
                "push the base bundle first");
  auto unhashed = bundle_.unhashed.find(d.digest);
  if (unhashed == bundle_.unhashed.end()) return reader_.open_at(path, offset);
  return std::make_unique<CheckedBlobSource>(reader_.open(path), d, path, unhashed->second, offset,
                                             reader_.file().name().string());
}

}  // namespace sealift::install
