import os


def handler(event, context):
    return {"greeting": "from the packaged folder", "topic": os.environ["TOPIC_ARN"]}
