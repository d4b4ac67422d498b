// The evaluation tools' shared set-up on generated data: generate the sample graph
// (client/datagen), import it through the public API (each record first shown to `keep`,
// which may change it or leave it out) and run TrainModels.
#ifndef KG_BENCH_GENERATED_GRAPH_H_
#define KG_BENCH_GENERATED_GRAPH_H_

#include <functional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "client/cpp/client.h"
#include "client/datagen/datagen.h"

namespace kg {

// `keep` returns false to leave a record out of the import. Returns TrainModels' last
// message.
inline absl::StatusOr<v1::TrainModelsProgress> ImportGeneratedAndTrain(
    Client* client, const datagen::Options& options,
    const std::function<bool(v1::ImportRecord*)>& keep) {
  std::unique_ptr<ImportWriter> writer = client->StartImport(v1::ImportOptions(), 3600000);
  std::vector<v1::ImportRecord> batch;
  auto generated = datagen::Generate(options, [&](const v1::ImportRecord& record) {
    v1::ImportRecord r = record;
    if (!keep(&r)) return absl::OkStatus();
    batch.push_back(std::move(r));
    if (batch.size() < 1000) return absl::OkStatus();
    return writer->Write(std::exchange(batch, {}));
  });
  if (!generated.ok()) return generated.status();
  if (!batch.empty()) {
    absl::Status s = writer->Write(std::move(batch));
    if (!s.ok()) return s;
  }
  auto imported = writer->Finish();
  if (!imported.ok()) return imported.status();
  return client->TrainModels(v1::TrainModelsRequest(), 7200000,
                             [](const v1::TrainModelsProgress&) {});
}

}  // namespace kg

#endif  // KG_BENCH_GENERATED_GRAPH_H_
