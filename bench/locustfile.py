"""Locust's side of bench/run: shapes (a) and (b) of bench/journeys/shapes.py as FastHttpUsers.

locust -f bench/locustfile.py --headless -u 50 -r 1000 -H http://127.0.0.1:8080 OneRequest
"""

from locust import FastHttpUser, constant, task


class OneRequest(FastHttpUser):
    """(a): one request per task, back to back."""

    wait_time = constant(0)

    @task
    def one_request(self):
        self.client.get("/")


class ThousandRequests(FastHttpUser):
    """(b): a thousand requests per task."""

    wait_time = constant(0)

    @task
    def thousand_requests(self):
        for _ in range(1000):
            self.client.get("/")
