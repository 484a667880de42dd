// An images.lock for the chart against pushed fixture images, made in-process from the fixture
// generator's summary (what `sealift-bundle lock --mirror` resolves over the network, without the
// network), so bundle tests do not depend on the lock command they are not testing.
#pragma once

#include <filesystem>
#include <string>

#include "env/fixtures.h"
#include "lock/image_lock.h"

namespace sealift::testenv {

// The lock of `chart_dir` (default: the repository's chart/) with every declared image resolved
// to its fixture in `fixtures`, and the chart digest of its deterministic package.
lock::ImageLock fixture_lock(const FixtureSet& fixtures, const std::filesystem::path& chart_dir = {});

// Replaces image `name` in `lock` by the fixture `image` (e.g. the backend of release 2).
void relock_image(lock::ImageLock& lock, const std::string& name, const FixtureImage& image);

// Mirror flags that send every upstream registry the fixtures stand in for to `host`.
std::vector<std::string> mirror_flags(const std::string& host);

}  // namespace sealift::testenv
