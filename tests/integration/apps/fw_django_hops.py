"""Django ASGI as tests/bench runs it: CommonMiddleware and an async view returning a JsonResponse. Every
request crosses asgiref's thread hops (the request_started/finished signals and the middleware run in a
per-request executor thread) and Django cancels or completes its disconnect listener."""

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="esg-test",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    INSTALLED_APPS=[],
)
django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402


async def user(request, user_id):
    return JsonResponse({"id": user_id, "method": request.method})


urlpatterns = [path("users/<int:user_id>", user)]

app = get_asgi_application()
