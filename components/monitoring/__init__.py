"""Monitoring of the platform, by concern:

    monitoring.py        Monitoring: the component (kube-prometheus-stack, alert topic, alarms)
    args.py              MonitoringArgs, AlertThresholds, MlflowScrape, validate
    charts.py            pinned charts, release names, service accounts
    values.py            kube-prometheus-stack and DCGM exporter Helm values
    alerting.py          Alertmanager routing, the SNS topic policy, Alertmanager's publish policy
    rules.py             the platform's PrometheusRule groups
    dashboards.py        the platform dashboard, Grafana's CloudWatch policy
    alarms.py            CloudWatch alarm specs (RDS, NAT gateways, EKS control plane)
    network_policies.py  the monitoring namespaces' NetworkPolicies
    observability.py     ServiceMonitor, PrometheusRule, alert rules, the Dashboard builder
    model_monitoring.py  ModelMonitoring: one served model's rules and dashboard

Building blocks take plain values; the platform's config is wired in by mlops_platform.components.platform.monitoring.
"""
