"""A one-file Django project served with --interface wsgi: settings configured in this module, a few
views (text, JSON with the request's path pieces, a POST echo, cookies, a StreamingHttpResponse,
a 404, an error turned into Django's 500) and `application` = get_wsgi_application()."""

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="esg-test-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    INSTALLED_APPS=[],
    USE_TZ=True,
    LOGGING_CONFIG=None,
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402


def home(request):
    return HttpResponse("Hello, Django!", content_type="text/plain")


def info(request):
    return JsonResponse({
        "path": request.path,
        "path_info": request.path_info,
        "script_name": request.META.get("SCRIPT_NAME"),
        "full_path": request.get_full_path(),
        "absolute": request.build_absolute_uri(),
        "remote_addr": request.META.get("REMOTE_ADDR"),
        "host": request.get_host(),
        "query": request.GET.dict(),
        "user_agent": request.headers.get("User-Agent"),
    })


@csrf_exempt
def echo(request):
    body = request.body
    resp = HttpResponse(body[::-1], content_type="application/octet-stream")
    resp["X-Length"] = str(len(body))
    return resp


def cookies(request):
    resp = JsonResponse(dict(request.COOKIES))
    resp.set_cookie("flavour", "oat")
    return resp


def stream(request):
    return StreamingHttpResponse((f"line {i}\n" for i in range(5)), content_type="text/plain")


def boom(request):
    raise ValueError("the view failed")


urlpatterns = [
    path("", home),
    path("info", info),
    path("echo", echo),
    path("cookies", cookies),
    path("stream", stream),
    path("boom", boom),
]

application = get_wsgi_application()
