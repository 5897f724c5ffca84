// NotificationMetrics: the notification pipeline's Prometheus series, registered in the
// controller's registry (so /metrics exposes them with the rest). Labelled by destination kind
// only ("slack", "sns"): never by webhook, parameter or topic, so cardinality stays fixed and no
// secret can reach a label. Every series exists at zero from the start.
//   endpointbinder_notifications_sent_total{destination}     messages delivered
//   endpointbinder_notifications_failed_total{destination}   messages given up (permanent error,
//                                                            or retries exhausted)
//   endpointbinder_notifications_dropped_total{destination}  messages dropped unsent: the
//                                                            destination's queue was full
//   endpointbinder_notification_retries_total{destination}   attempts that will be retried
//                                                            (errors and 429s)
//   endpointbinder_notification_queue_depth{destination}     messages waiting or in flight
//   endpointbinder_notification_reports_dropped_total        reconcile reports dropped because
//                                                            the notifier fell behind
// Thread-safety: all methods are thread-safe (prometheus-cpp series are atomic).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <string_view>

namespace endpointbinder::runtime {

class NotificationMetrics {
 public:
  // REQUIRES: no families of these names in `registry` yet.
  explicit NotificationMetrics(prometheus::Registry& registry);

  void sent(std::string_view kind);
  void failed(std::string_view kind);
  void dropped(std::string_view kind, int n = 1);
  void retried(std::string_view kind);
  void addQueueDepth(std::string_view kind, double delta);
  void reportDropped();

 private:
  struct Series {
    prometheus::Counter* sent;
    prometheus::Counter* failed;
    prometheus::Counter* dropped;
    prometheus::Counter* retries;
    prometheus::Gauge* depth;
  };
  Series& series(std::string_view kind);

  Series slack_;
  Series sns_;
  prometheus::Counter* reportsDropped_;
};

}  // namespace endpointbinder::runtime
