#include "controller/runtime/notification_metrics.h"

#include <string>

namespace endpointbinder::runtime {

NotificationMetrics::NotificationMetrics(prometheus::Registry& registry) {
  auto& sent = prometheus::BuildCounter()
                   .Name("endpointbinder_notifications_sent_total")
                   .Help("Notification messages delivered, by destination kind.")
                   .Register(registry);
  auto& failed = prometheus::BuildCounter()
                     .Name("endpointbinder_notifications_failed_total")
                     .Help(
                         "Notification messages given up (a permanent error, or every retry "
                         "failed), by destination kind.")
                     .Register(registry);
  auto& dropped = prometheus::BuildCounter()
                      .Name("endpointbinder_notifications_dropped_total")
                      .Help(
                          "Notification messages dropped unsent because the destination's "
                          "queue was full (the oldest goes), by destination kind.")
                      .Register(registry);
  auto& retries = prometheus::BuildCounter()
                      .Name("endpointbinder_notification_retries_total")
                      .Help(
                          "Notification attempts that failed and will be retried (errors and "
                          "HTTP 429), by destination kind.")
                      .Register(registry);
  auto& depth = prometheus::BuildGauge()
                    .Name("endpointbinder_notification_queue_depth")
                    .Help("Notification messages waiting or in flight, by destination kind.")
                    .Register(registry);
  for (auto [kind, series] : {std::pair{"slack", &slack_}, std::pair{"sns", &sns_}}) {
    const prometheus::Labels labels{{"destination", kind}};
    series->sent = &sent.Add(labels);
    series->failed = &failed.Add(labels);
    series->dropped = &dropped.Add(labels);
    series->retries = &retries.Add(labels);
    series->depth = &depth.Add(labels);
  }
  reportsDropped_ = &prometheus::BuildCounter()
                         .Name("endpointbinder_notification_reports_dropped_total")
                         .Help("Reconcile reports the notifier dropped because it fell behind.")
                         .Register(registry)
                         .Add({});
}

NotificationMetrics::Series& NotificationMetrics::series(std::string_view kind) {
  return kind == "sns" ? sns_ : slack_;
}

void NotificationMetrics::sent(std::string_view kind) { series(kind).sent->Increment(); }
void NotificationMetrics::failed(std::string_view kind) { series(kind).failed->Increment(); }
void NotificationMetrics::dropped(std::string_view kind, int n) {
  series(kind).dropped->Increment(n);
}
void NotificationMetrics::retried(std::string_view kind) { series(kind).retries->Increment(); }
void NotificationMetrics::addQueueDepth(std::string_view kind, double delta) {
  series(kind).depth->Increment(delta);
}
void NotificationMetrics::reportDropped() { reportsDropped_->Increment(); }

}  // namespace endpointbinder::runtime
