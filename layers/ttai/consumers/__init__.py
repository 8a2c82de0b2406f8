"""The queue consumers: the dispatcher (``dispatch``) and one module per message type, each ``handle(env, message)``.

Which message goes where: TASK_QUEUE carries work someone asked for (screener_run, job_run, knowledge_index);
ANALYSIS_QUEUE the results the system produced (analysis_complete, alert_triggered, screener_complete);
NOTIFICATION_QUEUE the notifications to deliver. One function consumes all three and dispatches by the message's
``type``.
"""
