.type | endswith(".finished")
---
.data.runs[]? | {context: {type: "dev.cdevents.pipelinerun.finished.0.3.0", timestamp: .end}, subject: {id: .id, content: {pipelineName: .name, outcome: (if .ok then "success" else "failure" end)}}}