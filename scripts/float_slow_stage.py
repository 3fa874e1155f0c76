#!/usr/bin/env python3
"""Rewrite a dynamically quantised (int8) ONNX slow stage so that its arithmetic is float.

Why: onnxruntime's dynamic int8 matrix products take different integer paths on different CPUs
(AVX2's pairwise 16-bit sums saturate, AVX-512 VNNI's do not), so the same text scored up to 0.02
apart on an AMD AVX2 and an Intel AVX-512 machine — the same edit could be flagged on one and not
on the other. Here every `DynamicQuantizeLinear → MatMulInteger → Cast → Mul` chain becomes
`DequantizeLinear(int8 weights) → MatMul` on the float activations: the file keeps the int8
weights (same size), flagbot's SlowStage folds them into float matrices once at load
(`session.disable_quant_qdq`), and the products are float32 FMA sums whose CPU-to-CPU
differences are rounding noise (~1e-6), far below any verdict's margin. It costs about half the
slow stage's speed (docs/benchmarks.md).

Needs the `onnx` package (the [train] extra):

    python scripts/float_slow_stage.py model.int8.onnx model.float.onnx
"""

from __future__ import annotations

import argparse
from pathlib import Path


def float_matmuls(source: str | Path, target: str | Path) -> int:
    """Write `target`: `source` with its integer matrix products made float; returns how many."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    weights = {init.name: init for init in graph.initializer}
    replaced: dict[int, list[onnx.NodeProto]] = {}
    dropped: set[int] = set()
    for node in graph.node:
        if node.op_type != "MatMulInteger":
            continue
        quantised_input, weight, _input_zero, weight_zero = node.input
        (cast,) = consumers[node.output[0]]
        (rescale,) = consumers[cast.output[0]]
        scales = producer[rescale.input[1]]  # input scale × weight scale
        activation = producer[quantised_input].input[0]
        weight_scale = scales.input[1]
        if not {weight, weight_zero, weight_scale} <= weights.keys() or cast.op_type != "Cast":
            raise ValueError(f"{node.name}: not the dynamic quantisation pattern expected")
        per_channel = numpy_helper.to_array(weights[weight_scale]).size > 1
        dequantised = f"{node.name}_float_weight"
        replaced[id(node)] = [
            helper.make_node(
                "DequantizeLinear",
                [weight, weight_scale, weight_zero],
                [dequantised],
                name=f"{node.name}_dequantize",
                **({"axis": 1} if per_channel else {}),
            ),
            helper.make_node("MatMul", [activation, dequantised], [rescale.output[0]], node.name),
        ]
        dropped.update({id(cast), id(rescale), id(scales)})
    nodes = [new for node in graph.node for new in replaced.get(id(node), [node])]
    nodes = [node for node in nodes if id(node) not in dropped]
    read = {name for node in nodes for name in node.input} | {out.name for out in graph.output}
    nodes = [  # the activations' quantisers nobody reads any more
        node
        for node in nodes
        if node.op_type != "DynamicQuantizeLinear" or any(out in read for out in node.output)
    ]
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return len(replaced)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="dynamically quantised ONNX file")
    parser.add_argument("target", help="where to write the float-arithmetic file")
    args = parser.parse_args()
    print(f"{float_matmuls(args.source, args.target)} integer matrix products made float")


if __name__ == "__main__":
    main()
