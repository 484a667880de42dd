#include "install/bundle_content.h"

#include <fmt/format.h>

#include "bundle/layout.h"
#include "util/error.h"

namespace sealift::install {

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
  return reader_.open_at(path, offset);
}

}  // namespace sealift::install
