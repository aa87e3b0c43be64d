"""Sparkplug B for plants on Ignition: the cloud publishes its stations as one edge node.

`bridge.SparkplugBridge` runs the edge node (births, data, deaths, sequence numbers, rebirth);
`payload` is the one module that knows protobuf and the Sparkplug B definition. The metric
mapping is documented in docs/sparkplug.md.
"""

from cloud.sparkplug.bridge import REBIRTH, SparkplugBridge, device_metrics, parse_node
from cloud.sparkplug.payload import DataType, Metric, decode, encode, topic, value_of

__all__ = [
    "REBIRTH",
    "DataType",
    "Metric",
    "SparkplugBridge",
    "decode",
    "device_metrics",
    "encode",
    "parse_node",
    "topic",
    "value_of",
]
