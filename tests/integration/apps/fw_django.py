"""A one-file Django ASGI app: a sync view and an async view."""

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="esg-test",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)
django.setup()

from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402


def sync_view(request):
    return HttpResponse(f"django sync {request.method} {request.path}")


async def async_view(request):
    return JsonResponse({"async": True, "query": request.GET.get("q", "")})


urlpatterns = [path("sync", sync_view), path("async", async_view)]

from django.core.asgi import get_asgi_application  # noqa: E402

app = get_asgi_application()
