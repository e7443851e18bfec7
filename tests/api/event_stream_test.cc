// GET /v1/stream's body without sockets: an OutboxEventStream pulled by hand over a fake outbox.
#include "api/event_stream.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "outbox/stored_record.h"

namespace handoff {
namespace {

class FakeOutbox : public OutboxReader {
 public:
  void Add(OutboxKind kind, const std::string& rep, const std::string& team) {
    const uint64_t seq = ++head_;
    const std::string lead = "u" + std::to_string(seq);
    OutboxRecord record;
    record.seq = seq;
    record.kind = kind;
    record.lead = lead;
    record.rep = rep;
    record.team = team;
    std::string json;
    AppendOutboxRecordJson(record, &json);
    std::string stored;
    EncodeStoredRecord(record, json, &stored);
    records_[seq] = std::move(stored);
  }
  // Stores a record past the head, as a batch the commit thread is still writing does.
  void AddUncommitted(OutboxKind kind) {
    Add(kind, "alice", "sales");
    --head_;
  }
  void Publish() { ++head_; }
  // Drops every record below `seq`, as retention does.
  void TrimBelow(uint64_t seq) { records_.erase(records_.begin(), records_.lower_bound(seq)); }

  uint64_t head() const override { return head_; }
  uint64_t oldest() const override { return records_.empty() ? 0 : records_.begin()->first; }
  Status Read(uint64_t from_seq, uint64_t last_seq, size_t max_records,
              std::vector<std::pair<uint64_t, std::string>>* out) const override {
    out->clear();
    for (auto it = records_.lower_bound(from_seq);
         it != records_.end() && it->first <= last_seq && out->size() < max_records; ++it) {
      out->emplace_back(it->first, it->second);
    }
    return Status::Ok();
  }

 private:
  uint64_t head_ = 0;
  std::map<uint64_t, std::string> records_;
};

class EventStreamTest : public ::testing::Test {
 protected:
  std::shared_ptr<HttpBodyStream> Open(std::string_view query, std::string_view last_id = "") {
    Result<EventStreamRequest> request = ParseEventStreamRequest(query, last_id);
    EXPECT_TRUE(request.ok()) << request.status().ToString();
    auto stream = streams_.Open(request.value());
    stream->Start([this] { ++wakes_; });
    return stream;
  }

  // Pulls until the stream waits without asking to be woken (a chunk that matched nothing asks
  // at once); everything it gave.
  std::string Drain(HttpBodyStream& stream) {
    std::string all;
    for (int i = 0; i < 100; ++i) {
      std::string out;
      const int wakes_before = wakes_;
      const HttpBodyStream::Pull pull = stream.Next(false, &out);
      all += out;
      if (pull != HttpBodyStream::Pull::kData && wakes_ == wakes_before) {
        break;
      }
    }
    return all;
  }

  FakeOutbox outbox_;
  EventStreams streams_{&outbox_, EventStreamOptions{.read_chunk_records = 2}};
  int wakes_ = 0;
};

TEST_F(EventStreamTest, SendsRecordsAfterFromAsEventsThenWaits) {
  outbox_.Add(OutboxKind::kRouted, "alice", "sales");
  outbox_.Add(OutboxKind::kRouted, "bob", "sales");
  outbox_.Add(OutboxKind::kAccepted, "alice", "sales");
  auto stream = Open("from=1");
  const std::string got = Drain(*stream);
  EXPECT_NE(got.find("id: 2\ndata: {\"seq\":2,\"kind\":\"routed\""), std::string::npos) << got;
  EXPECT_NE(got.find("id: 3\ndata: {\"seq\":3,\"kind\":\"accepted\""), std::string::npos) << got;
  EXPECT_EQ(got.find("id: 1\n"), std::string::npos);
  std::string out;
  EXPECT_EQ(stream->Next(false, &out), HttpBodyStream::Pull::kWait);
  // A new record: the waiting stream is woken and sends it.
  outbox_.Add(OutboxKind::kClosed, "alice", "sales");
  streams_.NotifyOutboxHead(4);
  EXPECT_EQ(wakes_, 1);
  streams_.NotifyOutboxHead(4);  // not waiting any more: no second wake
  EXPECT_EQ(wakes_, 1);
  EXPECT_EQ(Drain(*stream).substr(0, 17), "id: 4\ndata: {\"seq");
}

// A record past the published head belongs to a batch not yet durable: not sent until published.
TEST_F(EventStreamTest, StopsAtTheHead) {
  outbox_.Add(OutboxKind::kRouted, "alice", "sales");
  outbox_.AddUncommitted(OutboxKind::kAccepted);
  auto stream = Open("from=0");
  std::string got = Drain(*stream);
  EXPECT_NE(got.find("id: 1\n"), std::string::npos) << got;
  EXPECT_EQ(got.find("id: 2\n"), std::string::npos) << got;
  outbox_.Publish();
  streams_.NotifyOutboxHead(2);
  got = Drain(*stream);
  EXPECT_EQ(got.substr(0, 6), "id: 2\n") << got;
}

TEST_F(EventStreamTest, FiltersOnKindsRepAndTeam) {
  outbox_.Add(OutboxKind::kRouted, "alice", "sales");    // 1
  outbox_.Add(OutboxKind::kRouted, "bob", "sales");      // 2
  outbox_.Add(OutboxKind::kAccepted, "alice", "sales");  // 3
  outbox_.Add(OutboxKind::kStage, "", "");               // 4
  outbox_.Add(OutboxKind::kReassigned, "alice", "ent");  // 5
  auto stream = Open("from=0&rep=alice&kinds=routed,reassigned");
  const std::string got = Drain(*stream);
  EXPECT_NE(got.find("id: 1\n"), std::string::npos);
  EXPECT_NE(got.find("id: 5\n"), std::string::npos);
  EXPECT_EQ(got.find("id: 2\n"), std::string::npos);
  EXPECT_EQ(got.find("id: 3\n"), std::string::npos);
  EXPECT_EQ(got.find("id: 4\n"), std::string::npos);
  auto team = Open("from=0&team=ent");
  const std::string only_ent = Drain(*team);
  EXPECT_EQ(only_ent.rfind("id: 5\n", 0), 0u) << only_ent;
}

TEST_F(EventStreamTest, WithoutFromOnlyNewRecordsAndLastEventIdWins) {
  outbox_.Add(OutboxKind::kRouted, "alice", "sales");
  outbox_.Add(OutboxKind::kRouted, "alice", "sales");
  auto fresh = Open("");
  std::string out;
  EXPECT_EQ(fresh->Next(false, &out), HttpBodyStream::Pull::kWait);
  auto resumed = Open("from=0", "1");  // a browser's reconnect: after the last id it saw
  const std::string got = Drain(*resumed);
  EXPECT_EQ(got.rfind("id: 2\n", 0), 0u) << got;
}

TEST_F(EventStreamTest, TrimmedRecordsAreAGapEvent) {
  for (int i = 0; i < 5; ++i) {
    outbox_.Add(OutboxKind::kRouted, "alice", "sales");
  }
  outbox_.TrimBelow(4);
  auto stream = Open("from=1");
  const std::string got = Drain(*stream);
  EXPECT_EQ(got.rfind("id: 3\ndata: {\"error\":\"gap\",\"oldest\":4}\n\nid: 4\n", 0), 0u) << got;
}

TEST_F(EventStreamTest, IdleStreamSendsAHeartbeatComment) {
  outbox_.Add(OutboxKind::kRouted, "alice", "sales");
  auto stream = Open("");
  std::string out;
  EXPECT_EQ(stream->Next(true, &out), HttpBodyStream::Pull::kData);
  EXPECT_EQ(out, ": heartbeat 1\n\n");
}

TEST_F(EventStreamTest, AChunkThatMatchesNothingYieldsAndGoesOn) {
  for (int i = 0; i < 6; ++i) {
    outbox_.Add(OutboxKind::kRouted, "bob", "sales");
  }
  outbox_.Add(OutboxKind::kRouted, "alice", "sales");  // 7
  auto stream = Open("from=0&rep=alice");
  std::string out;
  // Chunks of two records: the first three match nothing; each asks to be called again.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(stream->Next(false, &out), HttpBodyStream::Pull::kWait);
    EXPECT_TRUE(out.empty());
  }
  EXPECT_EQ(wakes_, 3);
  EXPECT_EQ(stream->Next(false, &out), HttpBodyStream::Pull::kData);
  EXPECT_EQ(out.rfind("id: 7\n", 0), 0u);
}

TEST_F(EventStreamTest, ClosedStreamsLeaveTheRegistry) {
  auto a = Open("");
  auto b = Open("");
  EXPECT_EQ(streams_.open_streams(), 2u);
  a->Closed();
  EXPECT_EQ(streams_.open_streams(), 1u);
  b.reset();  // destroyed without Closed(): leaves too
  EXPECT_EQ(streams_.open_streams(), 0u);
}

TEST(ParseEventStreamRequestTest, RefusesWhatItDoesNotKnow) {
  EXPECT_FALSE(ParseEventStreamRequest("kinds=routed,nope", "").ok());
  EXPECT_FALSE(ParseEventStreamRequest("form=3", "").ok());
  EXPECT_FALSE(ParseEventStreamRequest("from=-1", "").ok());
  EXPECT_FALSE(ParseEventStreamRequest("from=1.5", "").ok());
  EXPECT_FALSE(ParseEventStreamRequest("", "abc").ok());
  Result<EventStreamRequest> ok = ParseEventStreamRequest("from=7&rep=a%20b&team=t", "");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok.value().from, 7u);
  EXPECT_EQ(ok.value().filter.rep, "a b");
  EXPECT_EQ(ok.value().filter.team, "t");
  EXPECT_EQ(ok.value().filter.kinds, 0u);
}

}  // namespace
}  // namespace handoff
